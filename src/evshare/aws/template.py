"""`evshare aws template`: the whole deployment as one SAM template.

What it declares, per the guide and past it:

- **Api** (AWS::Serverless::Api): a REST API whose body is `aws.openapi.importable(...)`, each
  operation a Lambda proxy to the function; stage `default` (or `--stage`); regional endpoint.
- **Function** (AWS::Serverless::Function): arm64, Python 3.12, the package `evshare aws package`
  builds, configured by EVSHARE_* variables; its role may do exactly what the handler does on
  exactly its table (GetItem, BatchGetItem, Query, UpdateItem) — nothing else, nowhere else.
- **Table** (`--store dynamodb`): on demand, point-in-time recovery, encryption at rest, TTL.
  With `--store postgres` the function runs in the VPC the parameters name and reads
  EVSHARE_DATABASE_URL from a parameter instead.
- **Usage plan, API key** (`--auth gateway`): API Gateway checks keys and applies the plan's
  throttle and quota; the key is attached to the plan. With `--auth evshare` API Gateway
  requires no key (evshare checks its own) and the stage's method throttle caps the whole API.
- **Log groups** with a retention, and **outputs**: the stage URL the guide's curl calls, ids.
"""

from __future__ import annotations

from typing import Any, Literal

from evshare.aws.openapi import Auth, Authorizer, importable
from evshare.store.dynamodb.table import READ_ACTIONS, table_properties

Store = Literal["dynamodb", "postgres"]

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"
HANDLER = "evshare.aws.lambda_handler.handler"
DEFAULT_CODE = "evshare-lambda.zip"
LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653]
# What the handler does to its table: the three reads, and UpdateItem for usage counts and (with
# auth=evshare) the limiter's conditional updates. Imports and key management run elsewhere.
FUNCTION_ACTIONS = [*READ_ACTIONS, "dynamodb:UpdateItem"]


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def build(
    *,
    store: Store = "dynamodb",
    auth: Auth = "gateway",
    stage: str = "default",
    authorizer: Authorizer = "none",
    code_uri: str = DEFAULT_CODE,
) -> dict[str, Any]:
    """The SAM template as a dict (CloudFormation intrinsics in their long form)."""
    function_arn = _sub("${Function.Arn}")
    uri = _sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        "${Function.Arn}/invocations"
    )
    body = importable(
        auth=auth,
        function_arn=function_arn,
        stage=stage,
        authorizer=authorizer,
        user_pool_arn=_ref("UserPoolArn") if authorizer == "cognito" else None,
    )
    for item in body["paths"].values():
        for operation in item.values():
            operation["x-amazon-apigateway-integration"]["uri"] = uri
    parameters: dict[str, Any] = {
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": LOG_RETENTION_DAYS,
            "Description": "Days to keep the function's and the API's logs.",
        },
        "DefaultPlan": {
            "Type": "String",
            "Default": "unlimited",
            "Description": "EVSHARE_DEFAULT_PLAN: the evshare plan of keys without one.",
        },
    }
    environment: dict[str, Any] = {
        "EVSHARE_AUTH": auth,
        "EVSHARE_DEFAULT_PLAN": _ref("DefaultPlan"),
        "EVSHARE_ACCESS_LOG": "true",
    }
    resources: dict[str, Any] = {}
    function: dict[str, Any] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Description": "evshare: the EnergSync API (evshare.aws.lambda_handler)",
            "Handler": HANDLER,
            "Runtime": RUNTIME,
            "Architectures": [ARCHITECTURE],
            "CodeUri": code_uri,
            "MemorySize": 512,
            "Timeout": 29,  # API Gateway's own integration limit
            "Environment": {"Variables": environment},
            "LoggingConfig": {"LogGroup": _ref("FunctionLogGroup"), "LogFormat": "Text"},
        },
    }
    if store == "dynamodb":
        resources["Table"] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": table_properties(),
        }
        environment["EVSHARE_DATABASE_URL"] = _sub("dynamodb://${Table}?region=${AWS::Region}")
        function["Properties"]["Policies"] = [
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EvshareTableOnly",
                        "Effect": "Allow",
                        "Action": FUNCTION_ACTIONS,
                        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
                    }
                ],
            }
        ]
    else:
        parameters["DatabaseUrl"] = {
            "Type": "String",
            "NoEcho": True,
            "Description": "EVSHARE_DATABASE_URL: postgresql://user:password@host:5432/db",
        }
        parameters["SubnetIds"] = {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Private subnets from which the function reaches PostgreSQL.",
        }
        parameters["SecurityGroupIds"] = {
            "Type": "List<AWS::EC2::SecurityGroup::Id>",
            "Description": "Security groups that PostgreSQL admits.",
        }
        environment["EVSHARE_DATABASE_URL"] = _ref("DatabaseUrl")
        environment["EVSHARE_DB_POOL_MIN"] = "0"
        environment["EVSHARE_DB_POOL_MAX"] = "2"
        function["Properties"]["VpcConfig"] = {
            "SubnetIds": _ref("SubnetIds"),
            "SecurityGroupIds": _ref("SecurityGroupIds"),
        }
        # The managed policy holds only the ENI actions a function in a VPC needs.
        function["Properties"]["Policies"] = ["AWSLambdaVPCAccessExecutionRole"]
    resources["FunctionLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": _sub("/aws/lambda/${AWS::StackName}-evshare"),
            "RetentionInDays": _ref("LogRetentionDays"),
        },
    }
    function["Properties"]["FunctionName"] = _sub("${AWS::StackName}-evshare")
    resources["Function"] = function
    api: dict[str, Any] = {
        "Type": "AWS::Serverless::Api",
        "Properties": {
            "Name": _sub("${AWS::StackName}-energsync"),
            "StageName": stage,
            "OpenApiVersion": "3.0.1",
            "EndpointConfiguration": {"Type": "REGIONAL"},
            "DefinitionBody": body,
        },
    }
    resources["Api"] = api
    resources["InvokePermission"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": _ref("Function"),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": _sub(
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/GET/*"
            ),
        },
    }
    outputs: dict[str, Any] = {
        "ApiUrl": {
            "Description": "The stage URL: curl -H 'x-api-key: KEY' ApiUrl/chargers",
            "Value": _sub(f"https://${{Api}}.execute-api.${{AWS::Region}}.amazonaws.com/{stage}"),
        },
        "RestApiId": {"Description": "for evshare aws keys sync", "Value": _ref("Api")},
        "FunctionName": {"Value": _ref("Function")},
    }
    if store == "dynamodb":
        outputs["TableName"] = {
            "Description": "EVSHARE_DATABASE_URL=dynamodb://TableName?region=...",
            "Value": _ref("Table"),
        }
    if auth == "gateway":
        parameters |= {
            "ThrottleRate": {"Type": "Number", "Default": 10, "MinValue": 0},
            "ThrottleBurst": {"Type": "Number", "Default": 20, "MinValue": 0},
            "QuotaLimit": {"Type": "Number", "Default": 100000, "MinValue": 1},
            "QuotaPeriod": {
                "Type": "String",
                "Default": "MONTH",
                "AllowedValues": ["DAY", "WEEK", "MONTH"],
            },
            "FirstKeyName": {
                "Type": "String",
                "Default": "rewatt",
                "AllowedPattern": "[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
                "Description": "The evshare key the template's API key stands for (keys sync "
                "links them by the name evshare-NAME).",
            },
        }
        resources["UsagePlan"] = {
            "Type": "AWS::ApiGateway::UsagePlan",
            "Properties": {
                "UsagePlanName": _sub("${AWS::StackName}-evshare-default"),
                "Description": "evshare: the plan of keys on the default plan (keys sync)",
                "ApiStages": [{"ApiId": _ref("Api"), "Stage": _ref("Api.Stage")}],
                "Throttle": {
                    "RateLimit": _ref("ThrottleRate"),
                    "BurstLimit": _ref("ThrottleBurst"),
                },
                "Quota": {"Limit": _ref("QuotaLimit"), "Period": _ref("QuotaPeriod")},
            },
        }
        resources["ApiKey"] = {
            "Type": "AWS::ApiGateway::ApiKey",
            "Properties": {
                "Name": _sub("evshare-${FirstKeyName}"),
                "Description": "evshare: created by the template",
                "Enabled": True,
            },
        }
        resources["UsagePlanKey"] = {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": _ref("ApiKey"),
                "KeyType": "API_KEY",
                "UsagePlanId": _ref("UsagePlan"),
            },
        }
        outputs["UsagePlanId"] = {"Value": _ref("UsagePlan")}
        outputs["ApiKeyId"] = {
            "Description": "aws apigateway get-api-key --include-value --api-key ApiKeyId",
            "Value": _ref("ApiKey"),
        }
    else:
        api["Properties"]["MethodSettings"] = [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": 100,
                "ThrottlingBurstLimit": 200,
            }
        ]
    if authorizer == "cognito":
        parameters["UserPoolArn"] = {
            "Type": "String",
            "Description": "The Cognito user pool whose tokens the API accepts.",
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"evshare: EnergSync API on API Gateway + Lambda ({store}, auth={auth})",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    }


def render(template: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=100)

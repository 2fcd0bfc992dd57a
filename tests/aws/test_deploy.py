"""`evshare aws openapi`, `template` and `package`: what API Gateway, CloudFormation (through
cfn-lint, which applies the SAM transform) and the Lambda runtime will be handed."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
import yaml
from openapi_spec_validator import validate

from evshare.aws import openapi, template
from evshare.aws.package import build
from evshare.store import schema
from tests.aws.commands import refused
from tests.aws.events import rest_event
from tests.servers import EVSHARE

pytestmark = pytest.mark.process  # the CLI, cfn-lint and moto run as processes

VARIANTS = [
    variant
    for variant in itertools.product(
        ("dynamodb", "postgres"), ("gateway", "evshare"), ("none", "cognito")
    )
    if variant[1:] != ("evshare", "cognito")  # refused: see test_a_bad_option_...
]
FUNCTION = "arn:aws:lambda:ca-central-1:123456789012:function:evshare"


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found = [(path, node)]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            found += _walk(value, f"{path}/{n}")
    return found


@pytest.mark.parametrize("auth", ["gateway", "evshare"])
@pytest.mark.parametrize("profile", ["1.2.0", "1.0.7"])
def test_the_openapi_document_follows_api_gateways_import_rules(auth: Any, profile: Any) -> None:
    document = openapi.importable(profile, auth=auth, function_arn=FUNCTION)
    validate(document)  # a valid OpenAPI 3.0 document
    assert document["openapi"].startswith("3.0")
    for path, node in _walk(document):
        if isinstance(node, dict):
            ref = node.get("$ref")
            assert ref is None or ref.startswith("#/components/schemas/"), path
            for key in node:
                assert key not in {"example", "examples", "readOnly", "discriminator"}, path
                if key.startswith("x-") and not path.startswith("/x-amazon"):
                    assert key.startswith("x-amazon-apigateway-"), f"{path}/{key}"
    assert set(document["components"]) == {"schemas", "securitySchemes"}
    assert all(s["type"] == "apiKey" for s in document["components"]["securitySchemes"].values())
    for name in document["components"]["schemas"]:
        assert name.isalnum()
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert len(operations) == 3
    for operation in operations:
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy"
        assert integration["httpMethod"] == "POST"
        assert integration["uri"] == (
            "arn:aws:apigateway:ca-central-1:lambda:path/2015-03-31/functions/"
            f"{FUNCTION}/invocations"
        )
        assert operation["security"] == ([{"api_key": []}] if auth == "gateway" else [])
        for parameter in operation["parameters"]:
            assert parameter["name"].replace("-", "").replace("_", "").isalnum()
    responses = document["x-amazon-apigateway-gateway-responses"]
    assert responses["API_KEY_INVALID"]["statusCode"] == 401
    assert responses["QUOTA_EXCEEDED"]["statusCode"] == 429


def test_api_gateway_imports_the_document(aws: str) -> None:
    client = boto3.client("apigateway")
    body = orjson.dumps(openapi.importable(auth="gateway", function_arn=FUNCTION))
    api = client.import_rest_api(body=body, failOnWarnings=True)
    resources = {r["path"]: r for r in client.get_resources(restApiId=api["id"])["items"]}
    assert {"/chargers", "/chargers/{chargerId}", "/chargers/{chargerId}/sessions"} <= set(
        resources
    )
    for path in ("/chargers", "/chargers/{chargerId}/sessions"):
        assert "GET" in resources[path]["resourceMethods"]


def test_the_cli_writes_the_document_and_refuses_a_bad_arn(tmp_path: Path) -> None:
    out = tmp_path / "api.json"
    argv = [EVSHARE, "aws", "openapi", "--function-arn", FUNCTION, "-o", str(out)]
    subprocess.run(argv, check=True, capture_output=True)
    assert json.loads(out.read_text())["paths"]["/chargers"]["get"]["operationId"] == "getChargers"
    assert "--function-arn" in refused("aws", "openapi", "--function-arn", "evshare")


def test_every_template_variant_passes_cfn_lint(tmp_path: Path) -> None:
    files = []
    for store, auth, authorizer in VARIANTS:
        path = tmp_path / f"{store}-{auth}-{authorizer}.yaml"
        argv = [EVSHARE, "aws", "template", "--store", store, "--auth", auth]
        argv += ["--authorizer", authorizer, "-o", str(path)]
        subprocess.run(argv, check=True, capture_output=True)
        files.append(str(path))
    lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(lint), *files], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_template_holds_what_the_guide_needs_and_no_more_privilege() -> None:
    built = yaml.safe_load(template.render(template.build(store="dynamodb", auth="gateway")))
    resources = built["Resources"]
    function = resources["Function"]["Properties"]
    assert function["Architectures"] == ["arm64"]
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "evshare.aws.lambda_handler.handler"
    [policy] = function["Policies"]
    [statement] = policy["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["Table", "Arn"]}
    assert statement["Action"] == [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]
    table = resources["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert resources["Api"]["Properties"]["StageName"] == "default"
    plan = resources["UsagePlan"]["Properties"]
    assert set(plan["Throttle"]) == {"RateLimit", "BurstLimit"}
    assert set(plan["Quota"]) == {"Limit", "Period"}
    assert resources["UsagePlanKey"]["Properties"]["KeyId"] == {"Ref": "ApiKey"}
    assert resources["FunctionLogGroup"]["Properties"]["RetentionInDays"] == {
        "Ref": "LogRetentionDays"
    }
    assert "/default" in built["Outputs"]["ApiUrl"]["Value"]["Fn::Sub"]
    evshare_auth = template.build(store="dynamodb", auth="evshare")
    assert "UsagePlan" not in evshare_auth["Resources"]


def test_a_bad_option_is_one_line_naming_it() -> None:
    assert "--stage" in refused("aws", "template", "--stage", "my stage")
    both = refused("aws", "template", "--auth", "evshare", "--authorizer", "cognito")
    assert "--authorizer cognito needs --auth gateway" in both


@pytest.mark.slow
def test_the_arm64_package_holds_the_functions_wheels_and_no_dev_files(tmp_path: Path) -> None:
    report = build(tmp_path / "fn.zip", architecture="arm64", python="3.12")
    names = zipfile.ZipFile(report.path).namelist()
    assert "evshare/aws/lambda_handler.py" in names
    assert "evshare/api/energsync-1.2.0.yaml" in names
    assert any(n.startswith("orjson/") and "aarch64" in n for n in names)
    assert not any(n.endswith((".pyc", ".pyi")) or "__pycache__" in n for n in names)
    assert not any(n.startswith(("tests/", "evshare/cli/")) for n in names)
    assert report.zipped_bytes < 10 * 2**20


@pytest.mark.slow
def test_the_package_imports_and_answers_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """Built for this machine's platform so that it can run here: only the standard library
    and the zip are on the path (-I -S), as in the Lambda runtime."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    report = build(tmp_path / "fn.zip", architecture="x86_64", python=version)
    unpacked = tmp_path / "task"
    zipfile.ZipFile(report.path).extractall(unpacked)
    database = f"sqlite:///{tmp_path / 'fn.db'}"
    schema.upgrade(database)
    event = json.dumps(rest_event("/chargers", [("x-api-key", "not-a-key")]))
    pages = json.dumps([rest_event("/openapi.json", []), rest_event("/docs", [])])
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]);"
        "from evshare.aws.lambda_handler import handler;"
        "result = handler(json.loads(sys.argv[2]), None);"
        "print(result['statusCode'], json.loads(result['body'])['code']);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('typer', 'rich', 'pydantic', 'uvicorn', 'sqlalchemy', 'alembic', 'markdown_it')));"
        "print([handler(e, None)['statusCode'] for e in json.loads(sys.argv[3])])"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script, str(unpacked), event, pages],
        capture_output=True,
        text=True,
        env={"EVSHARE_DATABASE_URL": database, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status, heavy, documents = done.stdout.splitlines()
    assert status == "401 unauthorized"
    assert heavy == "[]"  # nor the Markdown renderer, until /docs is asked for
    assert documents == "[200, 200]"  # /openapi.json and /docs, from the zip's own files

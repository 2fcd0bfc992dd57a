"""The DynamoDB table's shape, shared by the store (`db upgrade` creates it) and the SAM template
(`evshare aws template` declares it). No boto3 here: the template writer imports this too.

One table, two string keys: `pk` (partition) and `sk` (sort), no secondary index; every read the
API makes is a GetItem, a BatchGetItem or a Query on `pk` (docs/dynamodb.md lists the items).
`expires` is the TTL attribute: staged import rows that a killed import left behind expire.
"""

from __future__ import annotations

from typing import Any

PARTITION = "pk"
SORT = "sk"
TTL_ATTRIBUTE = "expires"
SCHEMA_VERSION = "dynamodb-1"


def key_schema() -> list[dict[str, str]]:
    return [
        {"AttributeName": PARTITION, "KeyType": "HASH"},
        {"AttributeName": SORT, "KeyType": "RANGE"},
    ]


def attribute_definitions() -> list[dict[str, str]]:
    return [
        {"AttributeName": PARTITION, "AttributeType": "S"},
        {"AttributeName": SORT, "AttributeType": "S"},
    ]


def table_properties() -> dict[str, Any]:
    """AWS::DynamoDB::Table properties: on demand, point-in-time recovery, encryption, TTL."""
    return {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": key_schema(),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
    }


# Exactly the actions the store calls, for the function's least-privilege policy.
READ_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"]
WRITE_ACTIONS = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
]
DESCRIBE_ACTIONS = ["dynamodb:DescribeTable"]

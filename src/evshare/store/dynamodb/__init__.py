"""The DynamoDB store: `dynamodb://TABLE?region=REGION` (see docs/dynamodb.md).

The adapter lives in store.py and imports boto3; table.py (the table's shape) does not, so the
template writer can use it without the SDK.
"""

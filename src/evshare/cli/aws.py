"""`evshare aws`: the OpenAPI document and SAM template for API Gateway + Lambda, the deployment
zip, and API Gateway keys kept in step with evshare's (docs/aws.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer

from evshare.cli.common import DatabaseUrl, err_console, settings_from
from evshare.errors import ConfigError

app = typer.Typer(
    help="Deploy on AWS: API Gateway + Lambda (+ DynamoDB) from one template.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="API Gateway keys from evshare's keys (auth=gateway).")
app.add_typer(keys_app, name="keys")

T = TypeVar("T", bound=str)
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")

Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here instead of standard output.")
]
Stage = Annotated[str, typer.Option(help="The API Gateway stage (the guide's is 'default').")]
Auth = Annotated[
    str,
    typer.Option(help="gateway: API Gateway checks keys and usage plans; evshare: evshare does."),
]
Authorizer = Annotated[
    str, typer.Option(help="none, or cognito: also require a Cognito user pool token.")
]


def _choice(option: str, value: str, choices: tuple[T, ...]) -> T:
    for choice in choices:
        if value == choice:
            return choice
    raise ConfigError(f"{option}: {value!r} is not one of {', '.join(choices)}")


def _stage(value: str) -> str:
    if _STAGE.fullmatch(value) is None:
        raise ConfigError(
            f"--stage: {value!r} is not a stage name API Gateway accepts: use 1-128 letters, "
            "digits, '-' or '_'"
        )
    return value


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    if not output.parent.exists():
        raise ConfigError(f"--output: the folder {output.parent} does not exist")
    output.write_text(text, encoding="utf-8")
    err_console.print(f"wrote {output}", highlight=False)


@app.command()
def openapi(
    auth: Auth = "gateway",
    function_arn: Annotated[
        str | None,
        typer.Option(
            help="The function's ARN, for a Lambda proxy integration on every operation; "
            "without it, integrations are left to set in the console."
        ),
    ] = None,
    stage: Stage = "default",
    profile: Annotated[str, typer.Option(help="Contract version: 1.2.0 or 1.0.7.")] = "1.2.0",
    authorizer: Authorizer = "none",
    user_pool_arn: Annotated[str | None, typer.Option(help="With --authorizer cognito.")] = None,
    output: Output = None,
) -> None:
    """The contract as an OpenAPI 3.0 document that API Gateway imports as a REST API."""
    from evshare.aws.openapi import importable

    if function_arn is not None and not re.fullmatch(
        r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_:-]+", function_arn
    ):
        raise ConfigError(
            f"--function-arn: {function_arn!r} is not a Lambda function ARN, e.g. "
            "arn:aws:lambda:ca-central-1:123456789012:function:evshare"
        )
    document = importable(
        _choice("--profile", profile, ("1.2.0", "1.0.7")),
        auth=_choice("--auth", auth, ("gateway", "evshare")),
        function_arn=function_arn,
        stage=_stage(stage),
        authorizer=_choice("--authorizer", authorizer, ("none", "cognito")),
        user_pool_arn=user_pool_arn,
    )
    _write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n", output)


@app.command()
def template(
    store: Annotated[str, typer.Option(help="dynamodb (a table in the stack) or postgres.")] = (
        "dynamodb"
    ),
    auth: Auth = "gateway",
    stage: Stage = "default",
    authorizer: Authorizer = "none",
    code_uri: Annotated[
        str, typer.Option(help="The zip `evshare aws package` wrote (or an s3:// URI).")
    ] = "evshare-lambda.zip",
    output: Output = None,
) -> None:
    """A SAM template: REST API, function, table, usage plan, API key, stage, logs, outputs."""
    from evshare.aws import template as sam

    if authorizer == "cognito" and auth == "evshare":
        raise ConfigError(
            "--authorizer cognito needs --auth gateway: with --auth evshare the function would "
            "read the Cognito token as an evshare key (mapping Cognito claims to a scope is not "
            "built yet)"
        )
    built = sam.build(
        store=_choice("--store", store, ("dynamodb", "postgres")),
        auth=_choice("--auth", auth, ("gateway", "evshare")),
        stage=_stage(stage),
        authorizer=_choice("--authorizer", authorizer, ("none", "cognito")),
        code_uri=code_uri,
    )
    _write(sam.render(built), output)


@app.command()
def package(
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip to write.")] = Path(
        "evshare-lambda.zip"
    ),
    arch: Annotated[str, typer.Option(help="arm64 (the template's) or x86_64.")] = "arm64",
    python: Annotated[str, typer.Option(help="The runtime's Python version.")] = "3.12",
    store: Annotated[str, typer.Option(help="dynamodb or postgres (adds psycopg).")] = "dynamodb",
    with_boto3: Annotated[
        bool, typer.Option(help="Also pack boto3 (the Lambda runtime has its own).")
    ] = False,
) -> None:
    """Build the Lambda deployment zip from registry wheels for the function's platform."""
    from evshare.aws import package as packager

    if re.fullmatch(r"3\.\d{1,2}", python) is None:
        raise ConfigError(f"--python: {python!r} is not a Python version such as 3.12")
    report = packager.build(
        output,
        architecture=_choice("--arch", arch, ("arm64", "x86_64")),
        python=python,
        store=_choice("--store", store, ("dynamodb", "postgres")),
        with_boto3=with_boto3,
    )
    err_console.print(report.summary(), highlight=False)
    err_console.print("packed: " + ", ".join(report.requirements), highlight=False)


@keys_app.command("sync")
def sync(
    rest_api_id: Annotated[str, typer.Option(help="The REST API (the stack's RestApiId output).")],
    stage: Stage = "default",
    region: Annotated[
        str | None, typer.Option(help="AWS region [default: the SDK's, e.g. AWS_REGION].")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Say what would change; change nothing.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Create, update and delete API Gateway keys and their usage plans from evshare's keys.

    Each live evshare key NAME gets an API Gateway key named evshare-NAME on the usage plan of
    its evshare plan (created as evshare-PLAN from the plan's throttle and quota); revoked and
    expired keys lose theirs. New keys' values are printed once, as `NAME VALUE` lines.
    """
    from evshare.aws.keysync import sync_keys
    from evshare.cli.common import with_store

    settings = settings_from(database_url=database_url)

    async def work(store: Any) -> Any:
        return await sync_keys(
            store,
            rest_api_id=rest_api_id,
            stage=_stage(stage),
            region=region,
            default_plan=settings.default_plan,
            dry_run=dry_run,
        )

    report = with_store(settings, work)
    for action in report.actions:
        err_console.print(action, highlight=False, soft_wrap=True)
    for line in report.values:  # shown once: API Gateway keeps the value, evshare does not
        typer.echo(line)

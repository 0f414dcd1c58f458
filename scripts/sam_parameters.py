"""The `--parameter-overrides` of template.yaml for a plain `sam deploy` (the SAM CLI path).

    .venv/bin/python scripts/sam_parameters.py [--stack-name NAME] > .build/sam-parameters.txt
    sam deploy ... --parameter-overrides $(cat .build/sam-parameters.txt)

Values come from where `make deploy-local` takes them (scripts/deploy.py): the data-layer names
from functions/common/data_layer.json (their env overrides included), the users table's stream
ARN (describe-table), the dependencies layer built from requirements/functions.txt and published
as `<stack>-dependencies` (reused when the requirements did not change), PARAM_<Name>
overrides; against LocalStack also LocalEndpoint, so the stack's ApiUrl output is the path-style
URL that needs no DNS. It also creates the `<stack>-artifacts` bucket for `--s3-bucket`, and
refuses (scripts/consumers.py) when another stack already consumes the data layer's sources.
"""

from __future__ import annotations

import argparse
import shlex
import sys

import consumers
import stack as st
from artifacts import artifacts_bucket, ensure_bucket, load_template, publish_layer
from deploy import LAYER_PARAMETER, stack_parameters
from endpoint import endpoint_url, is_local
from stack import ROOT, DeployError, log


def overrides(stack_name: str) -> list[str]:
    template = load_template(ROOT / "template.yaml")
    bucket = artifacts_bucket(stack_name)
    ensure_bucket(bucket)
    layer_arn = publish_layer(stack_name, bucket)
    consumers.check(stack_name, template)
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack_parameters(template, layer_arn)}
    if is_local() and "LocalEndpoint" not in params:
        params["LocalEndpoint"] = endpoint_url().rstrip("/")
    assert LAYER_PARAMETER in params
    return [shlex.quote(f"{key}={value}") for key, value in params.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", default=None)
    args = parser.parse_args(argv)
    stack_name = args.stack_name or st.stack_name()
    try:
        print(" ".join(overrides(stack_name)))
    except DeployError as e:
        log(str(e))
        return 1
    log(f"s3 bucket for `sam deploy --s3-bucket`: {artifacts_bucket(stack_name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

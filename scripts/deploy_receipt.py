"""A local redeploy with nothing to do, answered in a few requests and without boto3 (issue 10).

After each successful deploy to LocalStack, deploy.py keeps a receipt under
.build/deploy-receipts/: what it deployed from (the inputs below), which LocalStack it deployed
to, the stack as DescribeStacks showed it afterwards, and the outputs it wrote. The next deploy
of the same stack to the same endpoint is a no-op ("unchanged", outputs written again) only when
all of these still hold, checked in this order; the first that does not sends it down the full
path (deploy.run), which decides with CloudFormation itself:

1. the endpoint is a LocalStack (against AWS there is never a receipt);
2. the inputs are the same: the template's path and bytes, the content of every local artifact
   it packaged (CodeUri, DefinitionUri, ...), requirements/functions.txt, HOT_RELOAD, the region,
   the account's access key, the data-layer names, every PARAM_<Name>, and the deploy's own
   scripts (an edited deploy deploys for real);
3. it is the same LocalStack process (/_localstack/info's session_id, new on every start);
4. the stack is the one deployed: same id, status, creation and update times, last change
   set, parameters, outputs and template (a deleted, recreated or otherwise updated stack
   differs);
5. every table stream the parameters name is still that table's (a recreated table's is new);
6. the images-bucket notification is exactly as the deploy left it (another stack re-wired it);
7. the stack's event source mappings are Enabled or Disabled (no wait is due).

Requests to LocalStack are unsigned (it reads only the service and the region from the
Authorization header, as service_warmup.py relies on too): never sent to AWS.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import data_layer
import stack as st
from content_hash import REQUIREMENTS, requirements_hash, sha256_file, tree_hash
from endpoint import endpoint_url, is_local, region
from stack import BUILD_DIR

RECEIPTS_DIR = BUILD_DIR / "deploy-receipts"
FORMAT = 1
RECEIPT_DAYS = 7  # a receipt not renewed for that long is removed
SCRIPTS_DIR = Path(__file__).resolve().parent
SCRIPTS = ("deploy.py", "deploy_receipt.py", "artifacts.py", "cfn_deploy.py", "app_wiring.py",
           "consumers.py", "stack.py", "data_layer.py", "sam_parameters.py")
SETTLED = ("Enabled", "Disabled")
Receipt = dict[str, Any]

if TYPE_CHECKING:
    import argparse


# --- what the deploy reads ------------------------------------------------------------------


def hot_reload_from_env() -> bool:
    return os.environ.get("HOT_RELOAD", "0") not in ("", "0", "false", "False")


def inputs(template_path: Path, hot_reload: bool) -> dict[str, str]:
    """Everything a deploy reads besides the artifacts' content (artifact_digests)."""
    scripts = hashlib.sha256()
    for name in SCRIPTS:
        scripts.update(name.encode() + b"\0" + (SCRIPTS_DIR / name).read_bytes())
    return {
        "format": str(FORMAT),
        "template": f"{template_path}:{sha256_file(template_path)}",
        "requirements": requirements_hash() if REQUIREMENTS.exists() else "",
        "hot_reload": str(bool(hot_reload)),
        "region": region(),
        "access_key": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        "data_layer": json.dumps(data_layer.names(), sort_keys=True),
        "params": json.dumps({k: v for k, v in os.environ.items() if k.startswith("PARAM_")},
                             sort_keys=True),
        "scripts": scripts.hexdigest(),
    }


def artifact_digest(path: Path) -> str | None:
    """The content hash the packaging keys the artifact by; None when it is gone."""
    if path.is_dir():
        return tree_hash(path)
    return sha256_file(path) if path.is_file() else None


# --- LocalStack, unsigned -------------------------------------------------------------------


class LocalStack:
    """One keep-alive connection to LocalStack for the few reads of the check."""

    def __init__(self, endpoint: str, timeout: float = 10.0) -> None:
        parts = urlsplit(endpoint)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)

    def request(self, method: str, path: str, service: str = "", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        key = os.environ.get("AWS_ACCESS_KEY_ID") or "test"
        all_headers = dict(headers or {})
        if service:
            all_headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={key}/20250101/{region()}/{service}/aws4_request, "
                "SignedHeaders=host, Signature=0")
        self.conn.request(method, path, body, all_headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, path: str, service: str = "", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Any:
        status, data = self.request(method, path, service, body, headers)
        return json.loads(data) if status == 200 else None

    def close(self) -> None:
        self.conn.close()


def session_id(ls: LocalStack) -> str | None:
    info = ls.json("GET", "/_localstack/info")
    return (info or {}).get("session_id")


def _text(node: ET.Element | None, tag: str) -> str | None:
    child = None if node is None else node.find(f"{{*}}{tag}")
    return None if child is None else (child.text or "")


def _cloudformation(ls: LocalStack, action: str, **params: str) -> ET.Element | None:
    form = urlencode({"Action": action, "Version": "2010-05-15", **params}).encode()
    status, data = ls.request("POST", "/", "cloudformation", form,
                              {"Content-Type": "application/x-www-form-urlencoded"})
    return ET.fromstring(data) if status == 200 else None


def stack_state(ls: LocalStack, stack_name: str) -> dict[str, Any] | None:
    """The stack as DescribeStacks shows it, and its template's digest (None: no such stack).
    LocalStack 4.14 keeps LastUpdatedTime at the creation and ChangeSetId at the last change
    set's (none for an UpdateStack): the template tells an update that kept both apart."""
    answer = _cloudformation(ls, "DescribeStacks", StackName=stack_name)
    found = None if answer is None else answer.find(".//{*}Stacks/{*}member")
    template = _cloudformation(ls, "GetTemplate", StackName=stack_name,
                               TemplateStage="Original")
    body = None if template is None else template.find(".//{*}TemplateBody")
    if found is None or body is None:
        return None
    state: dict[str, Any] = {tag: _text(found, tag) for tag in (
        "StackId", "StackStatus", "CreationTime", "LastUpdatedTime", "ChangeSetId")}
    for section, key, value in (("Parameters", "ParameterKey", "ParameterValue"),
                                ("Outputs", "OutputKey", "OutputValue")):
        members = found.findall(f"{{*}}{section}/{{*}}member")
        state[section] = {_text(m, key): _text(m, value) for m in members}
    state["Template"] = hashlib.sha256((body.text or "").encode()).hexdigest()
    return state


def stream_arn(ls: LocalStack, table: str) -> str | None:
    answer = ls.json("POST", "/", "dynamodb", json.dumps({"TableName": table}).encode(), {
        "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
        "Content-Type": "application/x-amz-json-1.0"})
    return ((answer or {}).get("Table") or {}).get("LatestStreamArn")


def notification_digest(ls: LocalStack, bucket: str) -> str | None:
    status, data = ls.request("GET", f"/{quote(bucket)}?notification", "s3")
    return hashlib.sha256(data).hexdigest() if status == 200 else None


def unsettled_mappings(ls: LocalStack, functions: list[str]) -> list[str] | None:
    """The stack's event source mappings still starting or changing (None: not readable)."""
    names, pending, marker = set(functions), [], ""
    while True:
        query = "?MaxItems=1000" + (f"&Marker={quote(marker)}" if marker else "")
        page = ls.json("GET", f"/2015-03-31/event-source-mappings/{query}", "lambda")
        if page is None:
            return None
        for m in page.get("EventSourceMappings", []):
            function = m.get("FunctionArn", "").split(":function:", 1)[-1].split(":", 1)[0]
            if function in names and m.get("State") not in SETTLED:
                pending.append(f"{function}: {m.get('State')}")
        marker = page.get("NextMarker") or ""
        if not marker:
            return pending


# --- the receipt ----------------------------------------------------------------------------


def receipt_path(stack_name: str, endpoint: str | None = None) -> Path:
    key = hashlib.sha256(f"{endpoint or endpoint_url()}\0{stack_name}".encode()).hexdigest()
    return RECEIPTS_DIR / f"{stack_name}-{key[:12]}.json"


def forget(stack_name: str) -> None:
    """Drop the stack's receipt: a deploy is under way, the next check must not trust it."""
    receipt_path(stack_name).unlink(missing_ok=True)


def record(stack_name: str, deployed_from: dict[str, str], artifacts: dict[str, str],
           stream_tables: dict[str, str], functions: list[str], outputs: dict[str, str],
           wired: str | None) -> None:
    """Keep what a successful local deploy left; `deployed_from` was taken before it read its
    inputs (an edit during the deploy makes the next one deploy for real)."""
    if not is_local():
        return
    ls = LocalStack(endpoint_url())
    try:
        receipt: Receipt = {
            "inputs": deployed_from, "artifacts": artifacts, "session": session_id(ls),
            "stack": stack_state(ls, stack_name), "stream_tables": stream_tables,
            "functions": sorted(functions), "outputs": outputs, "wired": wired,
            "notification": None,
        }
        if wired:
            bucket = data_layer.name("IMAGES_BUCKET")
            receipt["notification"] = [bucket, notification_digest(ls, bucket)]
    except (OSError, http.client.HTTPException, ValueError, ET.ParseError):
        return  # the deploy succeeded; the next one just deploys for real
    finally:
        ls.close()
    if not receipt["session"] or not receipt["stack"]:
        return
    path = receipt_path(stack_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(receipt, indent=1, sort_keys=True))
    tmp.replace(path)
    for old in path.parent.glob("*.json"):  # stacks long gone (the bench's, the tests')
        try:
            if time.time() - old.stat().st_mtime > RECEIPT_DAYS * 86400:
                old.unlink()
        except OSError:
            pass


def check(template_path: Path, stack_name: str, hot_reload: bool) -> Receipt | str:
    """The receipt when the stack is current (nothing to deploy), else why a deploy is due."""
    if not is_local():
        return "not a LocalStack"
    try:
        receipt = json.loads(receipt_path(stack_name).read_text())
    except (OSError, ValueError):
        return "no receipt of a previous deploy"
    if receipt.get("inputs") != inputs(template_path, hot_reload):
        return "the template, requirements, parameters or deploy scripts changed"
    for path, digest in receipt.get("artifacts", {}).items():
        if artifact_digest(Path(path)) != digest:
            return f"{path} changed"
    try:
        return _check_localstack(receipt, stack_name)
    except (OSError, http.client.HTTPException, ValueError, ET.ParseError) as e:
        return f"LocalStack did not answer the check ({e})"


def _check_localstack(receipt: Receipt, stack_name: str) -> Receipt | str:
    ls = LocalStack(endpoint_url())
    try:
        if session_id(ls) != receipt["session"]:
            return "LocalStack restarted since the last deploy"
        state = stack_state(ls, stack_name)
        if state != receipt["stack"]:
            return "the stack is gone or changed since the last deploy"
        for parameter, table in receipt["stream_tables"].items():
            if stream_arn(ls, table) != state["Parameters"].get(parameter):
                return f"table {table} has a new stream"
        if receipt["notification"]:
            bucket, digest = receipt["notification"]
            if notification_digest(ls, bucket) != digest:
                return f"the notifications of {bucket} changed"
        pending = unsettled_mappings(ls, receipt["functions"])
        if pending is None or pending:
            return f"event source mappings not settled: {pending}"
    finally:
        ls.close()
    return receipt


# --- the command line -----------------------------------------------------------------------


def cli_parser(description: str) -> argparse.ArgumentParser:
    import argparse

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--template", type=Path, default=st.ROOT / "template.yaml")
    ap.add_argument("--stack-name", default=None)
    ap.add_argument("--hot-reload", action="store_true", default=None)
    return ap


def print_result(stack_name: str, status: str, seconds: float, outputs: dict[str, str],
                 wired: str | None) -> None:
    print(f"stack {stack_name}: {status} in {seconds:.1f}s")
    if wired:
        print(f"  wired {wired}")
    width = max((len(k) for k in outputs), default=0)
    for key in sorted(outputs):
        print(f"  {key:<{width}}  {outputs[key]}")
    shown = st.OUTPUTS_FILE  # STACK_OUTPUTS_FILE may put it anywhere
    if shown.is_relative_to(st.ROOT):
        shown = shown.relative_to(st.ROOT)
    print(f"  (written to {shown})")


def simple_args(argv: list[str]) -> tuple[Path, str | None, bool | None] | None:
    """cli_parser's options, read without argparse; None for anything else (--help, a typo),
    which deploy.main's parser then answers."""
    template, stack_name, hot_reload = st.ROOT / "template.yaml", None, None
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if arg == "--hot-reload":
            hot_reload = True
        elif name in ("--template", "--stack-name") and (eq or rest):
            value = value if eq else rest.pop(0)
            if name == "--template":
                template = Path(value)
            else:
                stack_name = value
        else:
            return None
    return template, stack_name, hot_reload


def main(argv: list[str]) -> bool:
    """`scripts/deploy.py` before it imports boto3: True when the stack is current (outputs
    written and printed), False when deploy.main has to deploy."""
    t0 = time.monotonic()
    args = simple_args(argv)
    if args is None:
        return False
    template, stack_name, hot_reload = args
    template = template.resolve()
    stack_name = stack_name or st.stack_name()
    hot_reload = hot_reload_from_env() if hot_reload is None else hot_reload
    if not template.exists():
        return False
    receipt = check(template, stack_name, hot_reload)
    if isinstance(receipt, str):
        return False
    st.write_outputs(stack_name, receipt["outputs"])
    print_result(stack_name, "unchanged", time.monotonic() - t0, receipt["outputs"],
                 receipt["wired"])
    return True

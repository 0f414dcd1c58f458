"""A fake runtime child for the process engine's tests: speaks the frame protocol, nothing else.

Started like the real runtime (``fake_child.py <request fd> <response fd> <config JSON>``).
Config: {"spare": true} waits for a claim frame first; {"init": "ready" | "error" | "exit" |
"hang"} says how the init ends. Each invoke's event is a JSON command:
  {"print": [...]}      write these lines to stdout/stderr (alternating), then answer ok
  {"fail": "msg"}       answer with an error frame
  {"sleep": seconds}    sleep, then answer ok
  {"exit": status}      exit without an answer
  {"too_large": size}   answer with a too-large frame
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), *[os.pardir] * 3,
                                "plugins", "localstack_hostmode", "runtime"))
import frames  # noqa: E402  (stdlib-only, loaded by path like the real child does)


def answer(response_fd, command):
    if "print" in command:
        for i, line in enumerate(command["print"]):
            stream = sys.stdout if i % 2 == 0 else sys.stderr
            stream.write(line + "\n")
            stream.flush()
        return frames.KIND_OK, json.dumps({"printed": len(command["print"])}).encode()
    if "fail" in command:
        return frames.KIND_ERROR, json.dumps({"errorMessage": command["fail"]}).encode()
    if "sleep" in command:
        time.sleep(command["sleep"])
        return frames.KIND_OK, b'"slept"'
    if "exit" in command:
        os._exit(command["exit"])
    if "too_large" in command:
        return frames.KIND_TOO_LARGE, command["too_large"].to_bytes(8, "big")
    return frames.KIND_OK, json.dumps(command).encode()


def main(argv):
    request_fd, response_fd = int(argv[1]), int(argv[2])
    config = json.loads(argv[3])
    reader = os.fdopen(request_fd, "rb")
    if config.get("spare"):
        _kind, body = frames.read_frame(reader)
        claim = json.loads(body)
        os.environ.update(claim["env"])
        config = claim["config"]
    init = config.get("init", "ready")
    print(f"init {init} {os.environ.get('FAKE_NAME', '')}", flush=True)
    if init == "error":
        frames.write_frame(response_fd, frames.KIND_INIT_ERROR, b'{"errorType": "Init.Boom"}')
        os._exit(1)
    if init == "exit":
        os._exit(3)
    if init == "hang":
        time.sleep(60)
    frames.write_frame(response_fd, frames.KIND_READY)
    while True:
        try:
            _kind, body = frames.read_frame(reader)
        except EOFError:
            os._exit(0)
        _header, event = frames.decode_invoke(body)
        kind, payload = answer(response_fd, json.loads(event))
        frames.write_frame(response_fd, kind, *frames.result_parts(1234, payload))


if __name__ == "__main__":
    main(sys.argv)

import sys

print("exiting during init")
sys.exit(0)


def handler(event, context):
    return "unreachable"

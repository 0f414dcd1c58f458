raise RuntimeError("missing TABLE_NAME")


def handler(event, context):
    return "unreachable"

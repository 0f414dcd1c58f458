VALUE = "v1"


def handler(event, context):
    return VALUE

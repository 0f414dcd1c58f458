import time

print("allocating during init")
HELD = b"\x01" * (256 << 20)  # more than the 128 MB the test gives this function
time.sleep(30)


def handler(event, context):
    return "unreachable"

"""Code shared by every function: settings, typed errors, HTTP helpers, AWS adapters.

Only the standard library, boto3 (bundled with the Lambda runtime) and the dependencies
layer (aws-lambda-powertools, pydantic, pillow) may be imported from `functions/`.
"""

#!/bin/sh
# AWS_LAMBDA_EXEC_WRAPPER fixture: gets the runtime command as arguments, like on AWS.
export WRAPPED_BY=wrapper.sh
export WRAPPER_ARGS="$*"
exec "$@"

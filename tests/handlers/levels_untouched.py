"""Logs at every level and leaves the root logger's level to the runtime, as
AWS recommends with the JSON log format (``levels_untouched.lambda_handler``);
answers with the logging set-up it found."""

import json
import logging
import os

logger = logging.getLogger()

logger.info("init of %s", os.environ["AWS_LAMBDA_FUNCTION_NAME"])


def lambda_handler(event, context):
    connection_id = event["requestContext"]["connectionId"]
    logger.debug("event: %s", json.dumps(event))
    logger.info("message from %s", connection_id)
    logger.warning("slow consumer %s", connection_id, extra={"connection_id": connection_id})
    try:
        json.loads(event["body"])
    except ValueError:
        logger.exception("not JSON: %r", event["body"])
    print(f"print from {connection_id}")
    setup = {
        "root_level": logging.getLevelName(logger.getEffectiveLevel()),
        "AWS_LAMBDA_LOG_FORMAT": os.environ.get("AWS_LAMBDA_LOG_FORMAT"),
        "AWS_LAMBDA_LOG_LEVEL": os.environ.get("AWS_LAMBDA_LOG_LEVEL"),
    }
    return {"statusCode": 200, "body": json.dumps(setup)}

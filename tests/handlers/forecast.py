"""Asks a weather service for a forecast and answers with it
(``forecast.lambda_handler``): a handler whose time goes to a dependency."""

import json
import os
import urllib.request

SERVICE_URL = os.environ["SERVICE_URL"]


def lambda_handler(event, context):
    # No timeout of its own, as in many samples: the function's timeout stops it.
    with urllib.request.urlopen(SERVICE_URL) as response:
        forecast = json.loads(response.read())
    return {"statusCode": 200, "body": json.dumps(forecast)}

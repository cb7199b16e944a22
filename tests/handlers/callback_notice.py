"""Answers through an @connections client created once, at import, from a
session of its own, for the API's callback URL from the environment
(``callback_notice.lambda_handler``), as Chalice builds it: what it posts says
where it runs."""

import json
import os

import boto3

CALLBACK_URL = os.environ["CALLBACK_URL"]
session = boto3.session.Session()
apigw = session.client("apigatewaymanagementapi", endpoint_url=CALLBACK_URL)


def lambda_handler(event, context):
    request_context = event["requestContext"]
    notice = {
        "callback_url": CALLBACK_URL,
        "region": os.environ["AWS_REGION"],
        "client_region": apigw.meta.region_name,
        "apiId": request_context["apiId"],
        "domainName": request_context["domainName"],
        "arn": context.invoked_function_arn,
    }
    apigw.post_to_connection(ConnectionId=request_context["connectionId"], Data=json.dumps(notice))
    return {"statusCode": 200}

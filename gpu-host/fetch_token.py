#!/usr/bin/env python3
"""Write the proxy's OLLAMA_API_KEY, read from Secrets Manager, to an env file only root reads.

    fetch_token.py SECRET_ARN OUTPUT_FILE      (region: AWS_REGION; credentials: the instance)

The token must be 32 to 96 characters of lowercase letters, digits, '-' or '_': nginx matches
it ignoring case and inside a hash bucket of fixed size (see proxy/default.conf.template).
Runs on the host with the system Python and Debian's python3-boto3; never prints the token.
"""

from __future__ import annotations

import os
import re
import sys

TOKEN_RULE = re.compile(r"[a-z0-9_-]{32,96}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    arn, output = argv
    import boto3

    client = boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"])
    token = client.get_secret_value(SecretId=arn)["SecretString"]
    if not TOKEN_RULE.fullmatch(token):
        print(
            "the OLLAMA_API_KEY secret must be 32 to 96 lowercase letters, digits, '-' or '_' "
            "(e.g. openssl rand -hex 32)",
            file=sys.stderr,
        )
        return 1
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as env_file:
        os.fchmod(env_file.fileno(), 0o600)
        env_file.write(f"OLLAMA_API_KEY={token}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

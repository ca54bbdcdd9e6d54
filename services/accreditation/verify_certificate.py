# pip install cryptography
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def verify_certificate(document: dict, public_key_pem: str) -> bool:
    key = load_pem_public_key(public_key_pem.encode())
    signatures = [document["signature"], document["status_signature"]]
    covered = {f for s in signatures for f in s["signed_fields"]}
    if set(document) - {"signature", "status_signature"} - covered:
        return False  # a field no signature vouches for
    for sig in signatures:
        if not set(sig["signed_fields"]) <= set(document):
            return False  # a signed field is missing
        content = {f: document[f] for f in sig["signed_fields"]}
        message = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        value = sig["value"]
        try:
            key.verify(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), message.encode())
        except (InvalidSignature, ValueError):
            return False
    return True


# python3 verify_certificate.py certificate.json public-key.json
certificate_file, key_file = (sys.argv[1:] + ["certificate.json", "public-key.json"])[:2]
document = json.load(open(certificate_file))  # the saved certificate
public_key = json.load(open(key_file))["public_key_pem"]  # the saved public key
print(
    "valid" if verify_certificate(document, public_key) else "FORGED OR DAMAGED",
    document["status"],
    "as of",
    document["checked_at"],
)

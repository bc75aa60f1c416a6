"""The entrypoint a user would write with the official Python SDK: resolve
every Key Vault reference in the environment, one get_secret at a time, then
exec the command. The benchmark's baseline for "what kvenv replaces"."""
import os
import re
import sys

from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

REF = re.compile(r"@Microsoft\.KeyVault\(SecretUri=(https://[^/]+)/secrets/([^/)]+)/?\)")

credential = ManagedIdentityCredential()
clients = {}
for name, value in list(os.environ.items()):
    match = REF.fullmatch(value)
    if not match:
        continue
    vault, secret = match.groups()
    if vault not in clients:
        # The fake vault's challenge names vault.azure.net while the host is 127.0.0.1.
        clients[vault] = SecretClient(vault, credential, verify_challenge_resource=False)
    os.environ[name] = clients[vault].get_secret(secret).value

os.execvp(sys.argv[1], sys.argv[1:])

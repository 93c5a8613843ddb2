#!/usr/bin/env python3
"""Synthetic inputs for the audit bench (stdlib only; every secret is random, none is real).

  make_secret_corpus.py labelled DIR     DIR/corpus.txt + DIR/labels.tsv (line, rule id or "-")
  make_secret_corpus.py log FILE MIB     a realistic log of MIB MiB, one secret per ~64 KiB
"""
import os, random, string, sys, uuid, hashlib, base64

ALNUM = string.ascii_letters + string.digits
rnd = random.Random(20261121)

def chars(alphabet, n):
    return "".join(rnd.choice(alphabet) for _ in range(n))

def positives():
    """(rule id, line) pairs: one secret of a known class per line."""
    return [
        ("aws-access-key", "export AWS_ACCESS_KEY_ID=AKIA" + chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
        ("aws-secret-key", "aws_secret_access_key = " + chars(ALNUM + "/+", 40)),
        ("generic-api-key", 'config loaded: api_key="' + chars(ALNUM, 32) + '"'),
        ("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
        ("email-address", "notify " + chars(string.ascii_lowercase, 6) + "." + chars(string.ascii_lowercase, 5) + "@mail.acme-corp.io about failure"),
        ("bearer-token", "Authorization: Bearer " + chars(ALNUM + "-._", 48)),
        ("password", "connecting with password=" + chars(ALNUM, 14) + " to db"),
        ("github-token", "cloning with ghp_" + chars(ALNUM, 36)),
        ("gitlab-pat", "GITLAB_TOKEN=glpat-" + chars(ALNUM, 20)),
        ("slack-token", "slack client token xoxb-" + chars(string.digits, 12) + "-" + chars(ALNUM, 24)),
        ("stripe-key", "stripe.api_key: sk_live_" + chars(ALNUM, 24)),
        ("google-api-key", "maps?key=AIza" + chars(ALNUM, 35)),
        ("openai-key", "OPENAI_API_KEY=sk-proj-" + chars(ALNUM, 24) + "T3BlbkFJ" + chars(ALNUM, 24)),
        ("jwt", "set-cookie: session=eyJ" + chars(ALNUM, 20) + ".eyJ" + chars(ALNUM, 40) + "." + chars(ALNUM, 43) + ";"),
        ("npm-token", "//registry.npmjs.org/:_authToken=npm_" + chars(ALNUM, 36)),
        ("vault-token", "VAULT_TOKEN=hvs." + chars(ALNUM, 30)),
        ("docker-hub-pat", "docker login -p dckr_pat_" + chars(ALNUM, 27)),
        ("sendgrid-key", "SENDGRID_KEY=SG." + chars(ALNUM, 22) + "." + chars(ALNUM, 43)),
        ("digitalocean-token", "doctl auth init -t dop_v1_" + chars("0123456789abcdef", 64)),
        ("anthropic-key", "ANTHROPIC_API_KEY=sk-ant-api03-" + chars(ALNUM, 93) + "AA"),
        ("shopify-token", "shop token shpat_" + chars("0123456789abcdef", 32)),
        ("pypi-token", "password = pypi-AgEIcHlwaS5vcmc" + chars(ALNUM, 60)),
        ("slack-webhook", "posting to https://hooks.slack.com/services/T" + chars(string.ascii_uppercase + string.digits, 10)
            + "/B" + chars(string.ascii_uppercase + string.digits, 10) + "/" + chars(ALNUM, 24)),
        ("twilio-key", "twilio sid SK" + chars("0123456789abcdef", 32)),
        ("github-fine-grained-pat", "GH_TOKEN=github_pat_" + chars(ALNUM + "_", 82)),
        # Formats the first rule set did not cover.
        ("huggingface-token", "HF_TOKEN=hf_" + chars(string.ascii_letters, 34)),
        ("databricks-token", "databricks configure --token dapi" + chars("0123456789abcdef", 32)),
        ("linear-api-key", "LINEAR_API_KEY=lin_api_" + chars(ALNUM, 40)),
        ("telegram-bot-token", "bot = Bot(token='" + chars(string.digits, 10) + ":AA" + chars(ALNUM + "_-", 33) + "')"),
        ("age-secret-key", "AGE-SECRET-KEY-1" + chars("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)),
        ("azure-storage-key", "DefaultEndpointsProtocol=https;AccountName=acmelogs;AccountKey=" + chars(ALNUM + "+/", 86) + "==;EndpointSuffix=core.windows.net"),
        ("url-credentials", "DATABASE_URL=postgres://app:" + chars(ALNUM, 18) + "@db.internal:5432/orders"),
    ]

def negatives():
    """Lines that look like secrets but are not, or hold none."""
    return [
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "api_key=${API_KEY}",
        "password: {{ .Values.postgres.password }}",
        "password=$DB_PASSWORD",
        "token: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "password: ********",
        "password=<your-password-here>",
        "secret_key = changeme",
        "commit " + hashlib.sha1(os.urandom(8)).hexdigest() + " merged",
        "sha256:" + hashlib.sha256(os.urandom(8)).hexdigest(),
        "request id " + str(uuid.UUID(int=rnd.getrandbits(128))),
        "GET /api/v1/users?page=2 200 12ms",
        "Bearer token expired, refreshing",
        "the api key is read from the environment",
        "image digest " + base64.b64encode(os.urandom(12)).decode(),
        "listening on 0.0.0.0:8080",
        "user=admin action=login result=ok",
        "ghp_ prefix tokens are rotated weekly",
        "-----BEGIN CERTIFICATE-----",
        "password = true",
        "contact: support at acme dot io",
        "DATABASE_URL=postgres://app:${DB_PASSWORD}@db.internal:5432/orders",
        "redis://redis.internal:6379/0",
        "proxy https://proxy.internal:3128/ in use",
        "AccountKey=<your-storage-key>",
        "hf_hub_download(repo_id=org/model)",
        "telegram chat 1234567890 joined",
    ]

def labelled(directory):
    os.makedirs(directory, exist_ok=True)
    lines, labels = [], []
    for _ in range(20):
        for rule, line in positives():
            lines.append(line); labels.append(rule)
        for line in negatives():
            lines.append(line); labels.append("-")
    order = list(range(len(lines)))
    rnd.shuffle(order)
    with open(os.path.join(directory, "corpus.txt"), "w") as out, open(os.path.join(directory, "labels.tsv"), "w") as lab:
        for n, i in enumerate(order, 1):
            out.write(lines[i] + "\n")
            lab.write(f"{n}\t{labels[i]}\n")

FILLER = [
    '{"level":"info","ts":"2026-11-21T10:00:00Z","msg":"request served","path":"/api/items","status":200,"ms":%d}',
    "%d worker-3 picked job from queue orders (attempt 1)",
    "GET /static/app.%d.js 200 1432 bytes",
    "cache miss for key user:%d:profile, loading from database",
    "2026-11-21 10:00:00,123 INFO  [scheduler] next run in %d seconds",
]

def log(path, mib):
    block_size = 16 << 20
    parts, size, next_secret = [], 0, 0
    pos = positives()
    while size < block_size:
        if size >= next_secret:
            line = rnd.choice(pos)[1]
            next_secret = size + rnd.randint(32 << 10, 96 << 10)
        else:
            line = rnd.choice(FILLER) % rnd.randint(1, 99999)
        parts.append(line + "\n")
        size += len(line) + 1
    block = "".join(parts).encode()
    written = 0
    with open(path, "wb") as out:
        while written < mib << 20:
            chunk = block[: (mib << 20) - written]
            out.write(chunk)
            written += len(chunk)

if __name__ == "__main__":
    if sys.argv[1] == "labelled":
        labelled(sys.argv[2])
    elif sys.argv[1] == "log":
        log(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)

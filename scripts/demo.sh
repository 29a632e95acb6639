#!/usr/bin/env bash
# End-to-end demo on a fresh registry in a temp folder (creates .venv on first use):
# init, register, lineage, stage (with audit trail), chunked storage, download, verify, fsck,
# sharing through a remote (push, lazy clone, pull), encryption at rest, damage found.
source "$(dirname "$0")/_venv.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pacha-demo.XXXXXX")"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
export PACHA_DIR="$WORK/registry"
export PACHA_AUTHOR_NAME="Demo User" PACHA_AUTHOR_EMAIL="demo@example.com"
export COLUMNS=110
cd "$WORK"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$'; printf ' %q' "$@"; printf '\n'; "$@"; }
# the same, as a colleague working in a clone of the team's remote / in the encrypted registry
colleague() { printf '(colleague) $'; printf ' %q' "$@"; printf '\n'
    PACHA_DIR="$WORK/colleague" PACHA_AUTHOR_NAME="A Colleague" PACHA_AUTHOR_EMAIL="colleague@example.com" "$@"; }
sealed() { printf '(encrypted registry) $'; printf ' %q' "$@"; printf '\n'; PACHA_DIR="$WORK/sealed" "$@"; }

step "Create a registry"
run pacha init

step "Data: a CSV of transactions (schema and row count are read from it)"
python - <<'PY'
import random
random.seed(1)
with open("transactions.csv", "w") as f:
    f.write("id,amount,merchant,fraud\n")
    for i in range(5000):
        f.write(f"{i},{random.uniform(1, 500):.2f},m{random.randint(1, 40)},{random.random() < 0.02}\n")
PY
run pacha data register transactions transactions.csv -v 1.0.0 -p "Card transactions for fraud detection"
head -n 2001 transactions.csv > sample.csv
run pacha data register transactions-sample sample.csv --derived-from transactions:1.0.0 --transform "first 2000 rows"

step "A model: a Hugging Face style folder with safetensors weights, and a Model Card"
python - <<'PY'
import json, os, struct
os.makedirs("fraud-detector", exist_ok=True)
json.dump({"architectures": ["MLP"], "hidden_size": 256}, open("fraud-detector/config.json", "w"))
tensors = {"dense.weight": ("F32", [256, 64]), "dense.bias": ("F32", [256]), "head.weight": ("F32", [1, 256])}
header, offset = {}, 0
for name, (dtype, shape) in tensors.items():
    size = 4
    for d in shape:
        size *= d
    header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
    offset += size
raw = json.dumps(header).encode()
with open("fraud-detector/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw + os.urandom(offset))
PY
cat > card.toml <<'EOF2'
description = "Scores card transactions for fraud review"
training_data = "transactions:1.0.0"
evaluation_data = "transactions-sample:latest"
training_duration = "12m"
primary_uses = ["Rank transactions for manual fraud review"]
out_of_scope_uses = ["Automatic blocking of cards"]
limitations = ["Trained on one month of synthetic data"]
license = "apache-2.0"
[metrics]
auc = 0.91
EOF2
run pacha model register fraud-detector fraud-detector --card card.toml -v 1.0.0 -m "first model"

step "Quantize it: version with lineage (typed edge, by record hash)"
cp -r fraud-detector fraud-detector-int8
printf 'quantized' >> fraud-detector-int8/model.safetensors
run pacha model register fraud-detector-int8 fraud-detector-int8 --from fraud-detector:1.0.0 \
    --relation quantized --param quantization=int8 --metric auc=0.90
run pacha model lineage fraud-detector:1.0.0
run pacha data provenance transactions-sample:latest

step "Stages: promote, then promote the quantized model; the old one is archived"
run pacha model stage fraud-detector:1.0.0 -t production -m "first release"
run pacha model stage fraud-detector-int8 -v 1.0.0 -t staging -m "canary"
run pacha model list
run pacha model history fraud-detector

step "A training recipe and a tracked run that registers its model"
cat > recipe.toml <<'EOF2'
name = "fraud-mlp"
version = "1.0.0"
random_seed = 7
deterministic = true
[hyperparameters]
learning_rate = 0.01
batch_size = 64
epochs = 5
[data]
train = "transactions:1.0.0"
[dependencies]
python = "3.11"
lock_hash = "none (demo)"
[run]
command = "python train.py"
EOF2
cat > train.py <<'EOF2'
import json, math, os
from porcelain import Registry
params = json.loads(os.environ["PACHA_PARAMS"])
reg = Registry.open()
run = reg.run()  # the run `pacha recipe run` started (PACHA_RUN_ID)
for epoch in range(params["epochs"]):
    run.log_metric("val_loss", 0.5 * math.exp(-params["learning_rate"] * 40 * epoch), step=epoch)
print("trained for", params["epochs"], "epochs with lr", params["learning_rate"])
with open("trained.bin", "wb") as f:
    f.write(os.urandom(4096))
reg.register_model("fraud-mlp", "trained.bin")  # carries the run: recipe, data, metrics
EOF2
run pacha recipe register recipe.toml
run pacha recipe run fraud-mlp:1.0.0 --override learning_rate=0.02
run pacha run get run-001
run pacha model card fraud-mlp:1.0.0
run pacha model verify fraud-mlp:1.0.0   # recipe and model share the name: each command picks its kind
run pacha model provenance fraud-mlp:1.0.0  # the run generated it, and used the recipe and its data
run pacha data used-by transactions:1.0.0 --kind model

step "Download what is in production (verified as written) and compare"
run pacha model download fraud-detector@production -o downloaded
diff -r fraud-detector downloaded && echo "identical to what was registered"
run pacha model card fraud-detector:1.0.0 --format md

step "Storage: a second version of 32 MiB weights with 1 MiB changed stores only the new chunks"
python - <<'PY'
import os, random
data = bytearray(random.Random(5).randbytes(32 << 20))
open("big-v1.bin", "wb").write(data)
data[10 << 20 : 11 << 20] = os.urandom(1 << 20)
open("big-v2.bin", "wb").write(data)
PY
run pacha model register big big-v1.bin -v 1.0.0
du -sb "$PACHA_DIR/objects" | awk '{printf "store: %.1f MB\n", $1 / 1e6}'
run pacha model register big big-v2.bin -v 1.1.0 --from big:1.0.0 --relation fine-tuned
du -sb "$PACHA_DIR/objects" | awk '{printf "store: %.1f MB (the second 32 MiB version added little)\n", $1 / 1e6}'
run pacha repack
run pacha count-objects -v
run pacha gc --keep-last 1 --prune now --dry-run

step "Verify the whole ancestry by hash, check the registry, show what dedup saved"
run pacha verify fraud-detector-int8:1.0.0
run pacha stats
run pacha fsck

step "Share: push to a remote (a directory here; s3://bucket/prefix works the same), a colleague clones it"
mkdir "$WORK/team-remote"
run pacha remote add origin "$WORK/team-remote" --default
run pacha push origin
run pacha clone "$WORK/team-remote" "$WORK/colleague" --lazy   # refs and records now, artifact bytes on demand
colleague pacha model history fraud-detector
colleague pacha model download fraud-detector@production -o from-remote
diff -r fraud-detector from-remote; echo "the colleague's download is identical (fetched and verified on demand)"
colleague pacha model stage fraud-detector-int8:1.0.0 -t production -m "int8 is good enough"
colleague pacha push
run pacha pull origin
run pacha model history fraud-detector-int8      # the colleague's promotion, with who, when and why

step "Encryption at rest: a registry whose files reveal no artifact bytes"
export PACHA_PASSPHRASE="demo passphrase, use a long one"
sealed pacha init --encrypt
sealed pacha data register transactions transactions.csv -v 1.0.0
if grep -rqa "m17," "$WORK/sealed/objects"; then echo "unexpected: plaintext on disk"; exit 1; fi
echo "no row of transactions.csv appears in the encrypted registry's files"
sealed pacha data download transactions:1.0.0 -o decrypted.csv
cmp transactions.csv decrypted.csv; echo "downloaded and decrypted: identical"
if PACHA_PASSPHRASE=wrong sealed pacha data get transactions:1.0.0; then
    echo "unexpected: a wrong passphrase was accepted"; exit 1
else echo "(a wrong passphrase is refused, exit $?)"; fi
unset PACHA_PASSPHRASE

step "Damage one byte of the parent's weights on disk: verify and fsck notice"
BLOB=$(pacha ls-tree "$(pacha cat-object -p "$(pacha rev-parse fraud-detector:1.0.0)" | python -c 'import json,sys; print(json.load(sys.stdin)["artifact"])')" | awk '/model.safetensors/ {print $3}')
python - "$BLOB" <<'PY'
import os, sys
import pacha
store = pacha.open_registry().objects
where, pack = store.locate(sys.argv[1])  # loose file, or an entry in a pack
if pack is None:
    path, offset = store.loose.path(sys.argv[1]), -3
else:
    entry = pack.entry_at(pack.position(bytes.fromhex(sys.argv[1])))
    path, offset = pack.path, entry.offset + entry.length - 3
os.chmod(path, 0o644)
data = bytearray(open(path, "rb").read())
data[offset] ^= 0xFF
open(path, "wb").write(data)
print(f"flipped one byte of {sys.argv[1][:12]} in {os.path.basename(path)}")
PY
if pacha verify fraud-detector-int8:1.0.0; then echo "unexpected: tampering not found"; exit 1; else echo "(verify found it, exit $?)"; fi
if pacha fsck; then echo "unexpected: corruption not found"; exit 1; else echo "(fsck found it, exit $?)"; fi
step "Demo finished: registry was $PACHA_DIR (removed on exit)"

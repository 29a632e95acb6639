#!/usr/bin/env bash
# End-to-end demo on a fresh registry in a temp folder (creates .venv on first use):
# init, register (objects + refs), stage, lineage, download, fsck.
source "$(dirname "$0")/_venv.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/pacha-demo.XXXXXX")"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
export PACHA_DIR="$WORK/registry"
export PACHA_AUTHOR_NAME="Demo User" PACHA_AUTHOR_EMAIL="demo@example.com"
cd "$WORK"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "Create a registry"
run pacha init

step "An artifact: a Hugging Face style model folder (config + 24 MiB of weights)"
mkdir -p bert-tiny
printf '{"architectures": ["BertModel"], "hidden_size": 128}\n' > bert-tiny/config.json
python - <<'PY'
import os, random
random.seed(7)
with open("bert-tiny/model.safetensors", "wb") as f:
    for _ in range(24):
        f.write(random.randbytes(1 << 20))
PY
run pacha hash-object bert-tiny/model.safetensors
python -c "import blake3,sys; print(blake3.blake3(open(sys.argv[1],'rb').read()).hexdigest(), '(BLAKE3 of the bytes, as b3sum prints)')" bert-tiny/model.safetensors

step "Register version 1.0.0: store the folder as a tree, create its ref (compare-and-swap: must not exist)"
TREE1=$(pacha write-tree bert-tiny); echo "tree $TREE1"
run pacha ls-tree "$TREE1"
run pacha write-ref models/bert-tiny/1.0.0 "$TREE1" --create -m "register bert-tiny 1.0.0"

step "Fine-tune it: version 1.1.0 changes the weights; lineage is a record naming its parent by id"
python - <<'PY'
with open("bert-tiny/model.safetensors", "r+b") as f:
    f.seek(4 << 20); f.write(b"\x01" * (1 << 20))
PY
TREE2=$(pacha write-tree bert-tiny)
printf '{"links":["%s"],"parent":"%s","relation":"fine-tuned","type":"lineage-edge"}' \
    "$TREE1" "$TREE1" > edge.json
EDGE=$(pacha hash-object -w -t record edge.json)
run pacha cat-object -p "$EDGE"

step "One atomic transaction: register 1.1.0, its lineage, and stage 1.0.0 to production"
printf 'create models/bert-tiny/1.1.0 %s\ncreate lineage/bert-tiny/1.1.0 %s\ncreate stages/bert-tiny/production %s\n' \
    "$TREE2" "$EDGE" "$TREE1" > tx.txt
cat tx.txt
run pacha update-ref --stdin -m "register 1.1.0; 1.0.0 to production" < tx.txt

step "Promote 1.1.0, but only if production still holds 1.0.0 (a stale expectation is refused)"
run pacha write-ref stages/bert-tiny/production models/bert-tiny/1.1.0 --old "$TREE1" -m "promote 1.1.0"
if pacha write-ref stages/bert-tiny/production "$TREE1" --old "$TREE1" -m "stale"; then
    echo "unexpected: stale update accepted"; exit 1
else
    echo "(refused, exit $?)"
fi
run pacha for-each-ref --format '%(objectname:short) %(objecttype) %(refname)'
step "Audit trail: who moved production, when, why"
run pacha reflog stages/bert-tiny/production
run pacha rev-parse 'stages/bert-tiny/production@{1}'

step "Download 1.0.0 (verified while written) and compare with the original"
python - <<'PY'
with open("bert-tiny/model.safetensors", "r+b") as f:
    f.seek(4 << 20); f.write(bytes(1 << 20))
PY
run pacha checkout-object models/bert-tiny/1.0.0 downloaded
run pacha write-tree downloaded
echo "same tree as 1.0.0: $TREE1"

step "Check everything, then damage one byte of an object on disk and check again"
run pacha count-objects -v
run pacha fsck
OBJ="$PACHA_DIR/objects/${TREE1:0:2}/${TREE1:2}"
chmod u+w "$OBJ"
python -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[-3]^=0xFF; open(p,'wb').write(b)" "$OBJ"
if pacha fsck; then echo "unexpected: corruption not found"; exit 1; else echo "(fsck found it, exit $?)"; fi
step "Demo finished: registry was $PACHA_DIR (removed on exit)"

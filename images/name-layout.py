#!/usr/bin/env python3
"""Names the images of an OCI layout for containerd (scripts/build-images.sh).

`ctr images import` names an image after its io.containerd.image.name annotation; umoci and buildah
write only the short tag (org.opencontainers.image.ref.name). Usage: name-layout.py LAYOUT TAG=NAME...
"""
import json
import sys

layout, pairs = sys.argv[1], sys.argv[2:]
names = dict(pair.split("=", 1) for pair in pairs)
with open(f"{layout}/index.json") as file:
    index = json.load(file)
seen = set()
for manifest in index["manifests"]:
    annotations = manifest.setdefault("annotations", {})
    tag = annotations.get("org.opencontainers.image.ref.name")
    if tag in names:
        annotations["io.containerd.image.name"] = names[tag]
        seen.add(tag)
missing = sorted(set(names) - seen)
if missing:
    sys.exit(f"name-layout: no image tagged {', '.join(missing)} in {layout}")
with open(f"{layout}/index.json", "w") as file:
    json.dump(index, file)

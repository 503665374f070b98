#!/usr/bin/env bash
# Test node only: starts one container of a pod, as a container runtime would, without images.
# Runs inside the pod's network namespace and a new mount + UTS namespace (the caller: nsenter --net=…
# unshare --mount --uts). The container's root is an overlay of this machine's own root (the "image")
# with a private writable layer on a tmpfs, so mount points for the pod's volumes are made there and
# nothing is written to the machine's folders. Then the pod's volumes are bound at their mount paths,
# its hosts file and resolv.conf replace the machine's, and the container's command is exec'ed
# (this process becomes the container's main process).
# Environment: HPK_SCRATCH (an empty folder), HPK_HOSTNAME, HPK_HOSTS, HPK_RESOLV, HPK_WORKDIR,
# HPK_MOUNTS (lines "source|target|ro or rw").
set -euo pipefail
scratch=$HPK_SCRATCH
mount -t tmpfs -o mode=0755 tmpfs "$scratch"
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
root=$scratch/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$root"
for d in proc sys dev; do mount --rbind "/$d" "$root/$d"; done
hostname "$HPK_HOSTNAME"
mount --bind "$HPK_HOSTS" "$root/etc/hosts"
mount --bind "$HPK_RESOLV" "$root/etc/resolv.conf"
while IFS='|' read -r source target mode; do
  [[ -n $source ]] || continue
  # Resolved inside the container's root: /var/run -> /run is a symlink, and following it from
  # outside the chroot would reach this machine's own /run.
  target=$(chroot "$root" realpath -m "$target")
  if [[ -d $source ]]; then
    mkdir -p "$root$target"
  else
    mkdir -p "$(dirname "$root$target")"
    touch "$root$target"
  fi
  mount --bind "$source" "$root$target"
  if [[ $mode == ro ]]; then mount -o remount,bind,ro "$root$target"; fi
done <<<"$HPK_MOUNTS"
workdir=${HPK_WORKDIR:-/}
unset HPK_SCRATCH HPK_HOSTNAME HPK_HOSTS HPK_RESOLV HPK_MOUNTS HPK_WORKDIR
exec chroot "$root" /bin/sh -c 'cd "$0" && exec "$@"' "$workdir" "$@"

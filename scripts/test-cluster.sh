#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for hapress's Kubernetes tests and for trying
# `hapress apply` by hand. Test infrastructure, not part of the product.
#
#   bash scripts/test-cluster.sh up      build what is missing, start everything, print
#                                         KUBECONFIG=<file> and SPEC=<file> (a spec fragment: images, storage)
#   bash scripts/test-cluster.sh down    stop everything by PID and put the machine back as it was
#   bash scripts/test-cluster.sh status  whether it is up, and its processes
#   bash scripts/test-cluster.sh images  rebuild the images that changed and import them (after an edit)
#
# Parts: etcd, kube-apiserver, kube-controller-manager, kube-scheduler (scripts/build-control-plane.sh);
# containerd and runc (Debian) with the CNI bridge and host-local plugins (Debian); the kubelet,
# kube-proxy (iptables mode), kube-router's firewall alone (NetworkPolicy enforcement with iptables
# and ipsets), local-path-provisioner (volumes) and CoreDNS as a Deployment (scripts/build-node.sh); images from scripts/build-images.sh, imported into
# containerd (nothing is ever pulled). Needs root: it runs a container runtime.
#
# Network: a bridge (hpk-cni0, 10.244.0.1/24) carries the pods and the node's address, which the API
# server advertises (EndpointSlices refuse loopback). Pods get routes to the pod and Service ranges
# only, no masquerade, and a FORWARD rule drops anything between the bridge and another interface:
# pod traffic never leaves the machine. The API server and the kubelet listen on the bridge address
# only, which nothing off the machine can reach (an INPUT rule).
#
# State: $HAPRESS_TEST_CLUSTER_DIR (default /var/tmp/hapress-test-cluster). Besides it, containerd
# and the kubelet write a few fixed paths (/run/containerd, /var/lib/cni, /var/lib/kubelet,
# /var/log/containers) and the kubelet changes some sysctls: `down` removes the paths it created and
# puts every sysctl back to the value `up` recorded.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

dir=${HAPRESS_TEST_CLUSTER_DIR:-/var/tmp/hapress-test-cluster}
BRIDGE=hpk-cni0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_IP=10.96.0.10
NODE_NAME=hapress-node
ETCD_PORT=12379
CONFINE=HPK-CONFINE
NODE_INPUT=HPK-NODE-INPUT
# What the kubelet and kube-proxy may change, recorded at `up` and put back at `down`.
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
  kernel.panic kernel.panic_on_oops vm.overcommit_memory kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)
# Fixed paths the runtime and the kubelet write whatever they are told.
FIXED_PATHS=(/run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers /var/log/pods)

say() { echo "test-cluster: $*" >&2; }
die() {
  say "$*"
  exit 1
}

# Processes are recorded as "name pid" lines, in start order.
pids_file=$dir/pids
running_pid() { awk -v n="$1" '$1 == n { print $2 }' "$pids_file" 2>/dev/null | tail -n 1; }
alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

start() {
  local name=$1
  shift
  "$@" >>"$dir/logs/$name.log" 2>&1 &
  echo "$name $!" >>"$pids_file"
}

# Waits (bounded) for a check to pass while the named process lives; its log tail on failure.
wait_for() {
  local name=$1 what=$2 seconds=$3
  shift 3
  local pid deadline=$((SECONDS + seconds))
  pid=$(running_pid "$name")
  until "$@" >/dev/null 2>&1; do
    alive "$pid" || {
      tail -n 30 "$dir/logs/$name.log" >&2
      die "$name exited before $what"
    }
    ((SECONDS < deadline)) || {
      tail -n 30 "$dir/logs/$name.log" >&2
      die "$name: no $what within $seconds s"
    }
    sleep 0.5
  done
}

kubectl_admin() { "$cp_bin/kubectl" --kubeconfig "$dir/admin.kubeconfig" "$@"; }

# --- PKI --------------------------------------------------------------------------------------------
pki() {
  local p=$dir/pki
  mkdir -p "$p"
  chmod 0700 "$p"
  (
    cd "$p"
    quiet_ssl() { openssl "$@" >/dev/null 2>&1 || die "openssl $1 failed"; }
    quiet_ssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=hapress-test-ca -days 30
    cert() { # name subject [subjectAltName]
      quiet_ssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
      if [[ -n ${3:-} ]]; then echo "subjectAltName=$3" >"$1.ext"; else : >"$1.ext"; fi
      quiet_ssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" \
        -extfile "$1.ext" -days 30
      rm -f "$1.csr" "$1.ext"
    }
    cert apiserver /CN=kube-apiserver \
      "IP:$NODE_IP,IP:$API_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    cert admin "/O=system:masters/CN=hapress-test-admin"
    cert controller-manager /CN=system:kube-controller-manager
    cert scheduler /CN=system:kube-scheduler
    cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
    cert kubelet-serving "/CN=$NODE_NAME" "IP:$NODE_IP,DNS:$NODE_NAME"
    cert kube-proxy /CN=system:kube-proxy
    quiet_ssl genrsa -out sa.key 2048
    quiet_ssl rsa -in sa.key -pubout -out sa.pub
    chmod 0600 ./*.key
  )
}

kubeconfig() { # name cert-name
  local b64
  b64() { base64 -w0 "$1"; }
  cat >"$dir/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: hapress-test
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority-data: $(b64 "$dir/pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$dir/pki/$2.crt")
    client-key-data: $(b64 "$dir/pki/$2.key")
contexts:
- name: hapress-test
  context: { cluster: hapress-test, user: $2 }
current-context: hapress-test
EOF
  chmod 0600 "$dir/$1.kubeconfig"
}

# --- network ----------------------------------------------------------------------------------------
network_up() {
  : >"$dir/sysctls"
  local key value
  for key in "${SYSCTLS[@]}"; do
    value=$(sysctl -n "$key" 2>/dev/null) || continue
    printf '%s\t%s\n' "$key" "$value" >>"$dir/sysctls"
  done
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
  # Pods reach pods, Services and the node, nothing else; nothing else reaches the node's address.
  iptables -N "$CONFINE"
  iptables -A "$CONFINE" -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
  iptables -A "$CONFINE" ! -i "$BRIDGE" -o "$BRIDGE" -j DROP
  iptables -I FORWARD 1 -j "$CONFINE"
  iptables -N "$NODE_INPUT"
  iptables -A "$NODE_INPUT" -i lo -j RETURN
  iptables -A "$NODE_INPUT" -i "$BRIDGE" -j RETURN
  iptables -A "$NODE_INPUT" -j DROP
  iptables -I INPUT 1 -d "$NODE_IP" -j "$NODE_INPUT"
}

network_down() {
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -D FORWARD -j "$CONFINE" 2>/dev/null; do :; done
  while iptables -D INPUT -d "$NODE_IP" -j "$NODE_INPUT" 2>/dev/null; do :; done
  local own
  for own in "$CONFINE" "$NODE_INPUT"; do
    iptables -F "$own" 2>/dev/null || true
    iptables -X "$own" 2>/dev/null || true
  done
  # kube-proxy's and the kubelet's chains (kube-proxy --cleanup removed most; the canaries remain).
  local cmd table chain
  for cmd in iptables ip6tables; do
    for table in filter nat mangle; do
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
        "$cmd" -t "$table" -S 2>/dev/null | awk -v c="$chain" '$1 == "-A" && $2 != c && / -j / && $0 ~ ("-j " c "( |$)")' |
          while read -r rule; do
            eval "$cmd -t $table ${rule/-A/-D}" 2>/dev/null || true
          done
        "$cmd" -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
        "$cmd" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
  # kube-router's ipsets, once no rule refers to them.
  local set
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-|kube-router)' || true); do
    ipset destroy "$set" 2>/dev/null || say "could not destroy ipset $set"
  done
  if [[ -f $dir/sysctls ]]; then
    local key value
    while IFS=$'\t' read -r key value; do
      sysctl -qw "$key=$value" 2>/dev/null || say "could not put back $key=$value"
    done <"$dir/sysctls"
  fi
}

# --- up ---------------------------------------------------------------------------------------------
up() {
  [[ $(id -u) -eq 0 ]] || die "needs root (it starts a container runtime and a bridge)"
  if [[ -f $pids_file ]]; then
    alive "$(running_pid kube-apiserver)" && die "already up (state in $dir); 'down' first"
    say "a previous cluster was not stopped: stopping what is left of it"
    down
  fi
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "$BRIDGE exists already: another test cluster? ('down' first)"
  # `down` removes every KUBE-* chain and ipset, kube-proxy's and kube-router's: never on a machine
  # where another Kubernetes node keeps its own there.
  if [[ $(iptables-save 2>/dev/null | grep -c '^:KUBE-') -gt 0 ]]; then
    die "this machine has Kubernetes packet-filter chains already (another node, e.g. k3s?): not starting beside it"
  fi
  local started=$SECONDS
  # A failed start leaves nothing behind: what did start is stopped as `down` would.
  trap 'code=$?; if ((code != 0)) && [[ -f $pids_file ]]; then say "up failed: stopping what started"; down; fi' EXIT
  cp_bin=$(bash scripts/build-control-plane.sh --print-dir)
  node_bin=$(bash scripts/build-node.sh --print-dir)
  local layout
  layout=$(bash scripts/build-images.sh --print-dir)
  for tool in containerd runc ctr iptables ipset conntrack; do
    command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/install.sh --tests installs it)"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "the CNI plugins are missing (Debian package containernetworking-plugins)"

  mkdir -p "$dir"/{logs,etcd,containerd,cni/net.d,cni/ipam,kubelet,pod-logs,volumes,shared}
  chmod 0700 "$dir"
  : >"$pids_file"
  local path
  : >"$dir/created-paths"
  for path in "${FIXED_PATHS[@]}"; do
    [[ -e $path ]] || echo "$path" >>"$dir/created-paths"
  done
  pki
  for name in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$name" "$name"; done
  network_up

  start etcd "$cp_bin/etcd" --name=hapress-test --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls=http://127.0.0.1:$((ETCD_PORT + 1)) \
    --initial-advertise-peer-urls=http://127.0.0.1:$((ETCD_PORT + 1)) \
    --initial-cluster=hapress-test=http://127.0.0.1:$((ETCD_PORT + 1)) \
    --unsafe-no-fsync --log-level=warn
  wait_for etcd "health" 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  local p=$dir/pki
  start kube-apiserver "$cp_bin/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --bind-address="$NODE_IP" --secure-port=6443 --advertise-address="$NODE_IP" \
    --cert-dir="$dir/apiserver-certs" --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" --service-account-key-file="$p/sa.pub" \
    --service-account-signing-key-file="$p/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --service-cluster-ip-range="$SERVICE_CIDR" --v=1
  wait_for kube-apiserver "/readyz" 120 kubectl_admin get --raw /readyz

  start kube-controller-manager "$cp_bin/kube-controller-manager" \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false \
    --service-account-private-key-file="$p/sa.key" --root-ca-file="$p/ca.crt" \
    --use-service-account-credentials=true --controllers='*' \
    --service-cluster-ip-range="$SERVICE_CIDR" --cluster-cidr="$POD_CIDR" --v=1
  start kube-scheduler "$cp_bin/kube-scheduler" --kubeconfig="$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig="$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --v=1

  # containerd: its own socket and folders; the fixed /run/containerd holds only the shims' sockets.
  cat >"$dir/containerd/config.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$dir/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "hapress.local/pause:3.10"
  # This VM lacks CAP_SYS_RESOURCE in root's bounding set: without this every sandbox fails.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  cat >"$dir/cni/net.d/10-hapress-test.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "hapress-test",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR", "rangeStart": "10.244.0.10", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "$SERVICE_CIDR" }]
      }
    }
  ]
}
EOF
  start containerd containerd --config "$dir/containerd/config.toml"
  local ctr_cmd=(ctr --address "$dir/containerd.sock" --namespace k8s.io)
  wait_for containerd "its socket" 60 "${ctr_cmd[@]}" version
  import_images "$layout"

  # The pods' resolver: only what the kubelet adds (the cluster DNS); no upstream of the host's.
  echo "options ndots:5" >"$dir/resolv.conf"
  cat >"$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $p/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $p/kubelet-serving.crt
tlsPrivateKeyFile: $p/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$dir/containerd.sock
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $dir/resolv.conf
podLogsDir: $dir/pod-logs
# The images are imported, never pulled: none may be collected.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
serializeImagePulls: false
EOF
  start kubelet "$node_bin/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/kubelet.kubeconfig" \
    --root-dir="$dir/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1

  cat >"$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $dir/kube-proxy.kubeconfig }
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [$NODE_IP/32]
iptables: { localhostNodePorts: false }
# The host's conntrack settings are left as they are.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
  start kube-proxy "$node_bin/kube-proxy" --config="$dir/kube-proxy.yaml" --v=1

  kubectl_admin apply -f scripts/test-cluster/addons.yaml >>"$dir/logs/addons.log" 2>&1 ||
    die "applying the add-ons failed: $(tail -n 5 "$dir/logs/addons.log")"
  local kind
  for kind in local-path shared-folder; do
    if [[ $kind == local-path ]]; then
      printf '{"nodePathMap":[{"node":"DEFAULT_PATH_FOR_NON_LISTED_NODES","paths":["%s"]}]}\n' \
        "$dir/volumes" >"$dir/$kind.json"
    else
      printf '{"sharedFileSystemPath":"%s"}\n' "$dir/shared" >"$dir/$kind.json"
    fi
    local provisioner=rancher.io/local-path
    [[ $kind == shared-folder ]] && provisioner=hapress.local/shared-folder
    start "provisioner-$kind" "$node_bin/local-path-provisioner" \
      start --kubeconfig "$dir/admin.kubeconfig" --config "$dir/$kind.json" --provisioner-name "$provisioner" --namespace local-path-storage \
      --helper-image hapress.local/debian:bookworm --service-account-name default
  done

  wait_for kubelet "a Ready node" 120 \
    kubectl_admin wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  # NetworkPolicies: kube-router's firewall only (no routing, proxy, CNI, egress NAT or open ports).
  # Started once the node is registered: it finds its node at start or exits.
  start kube-router "$node_bin/kube-router" --kubeconfig="$dir/admin.kubeconfig" \
    --hostname-override="$NODE_NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
    --enable-cni=false --enable-pod-egress=false --health-port=0 --metrics-port=0 \
    --service-cluster-ip-range="$SERVICE_CIDR" --v=1
  wait_for kube-router "its first policy sync" 60 grep -q "Starting sync of iptables" "$dir/logs/kube-router.log"
  wait_for kubelet "CoreDNS ready" 120 \
    kubectl_admin -n kube-system wait --for=condition=Available deployment/coredns --timeout=2s
  # Ready is not yet reachable: kube-proxy programs the Service's endpoint a moment later, and a pod
  # started before that has its lookups refused.
  wait_for kube-proxy "the cluster DNS Service programmed" 60 \
    sh -c 'iptables -t nat -S KUBE-SERVICES | grep -q "kube-system/kube-dns:dns cluster IP"'

  cat >"$dir/spec-fragment.yaml" <<EOF
# This test cluster's images and storage (scripts/test-cluster.sh): merge into a spec.
kubernetes:
  images:
    mariadb: hapress.local/mariadb:10.11
    wordpress: hapress.local/wordpress:6.1-php8.2-apache
    hapress: hapress.local/hapress:dev
    curl: hapress.local/curl:bookworm
    cache: hapress.local/nginx:bookworm
  storage:
    databaseClass: local-path
    contentClass: shared-folder
  backup:
    storageClass: shared-folder
  service:
    type: ClusterIP
EOF
  trap - EXIT
  say "up in $((SECONDS - started)) s"
  echo "KUBECONFIG=$dir/admin.kubeconfig"
  echo "SPEC=$dir/spec-fragment.yaml"
}

import_images() {
  say "importing the images"
  tar -C "$1" -cf - --exclude=./.key . |
    ctr --address "$dir/containerd.sock" --namespace k8s.io images import - >>"$dir/logs/import.log" 2>&1 ||
    die "importing the images failed: $(tail -n 5 "$dir/logs/import.log")"
}

# Rebuilds what changed (the hapress image after a source change) and hands it to the running node;
# pods started from then on run it.
images() {
  alive "$(running_pid containerd)" || die "not up"
  import_images "$(bash scripts/build-images.sh --print-dir)"
}

# --- down -------------------------------------------------------------------------------------------
stop_pid() { # name: SIGTERM, then SIGKILL after a bounded wait
  local pid
  pid=$(running_pid "$1")
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do
    alive "$pid" || return 0
    sleep 0.1
  done
  say "$1 ($pid) did not exit"
}

down() {
  [[ $(id -u) -eq 0 ]] || die "needs root"
  [[ -d $dir ]] || {
    say "not up"
    return 0
  }
  local name
  for name in provisioner-shared-folder provisioner-local-path kube-router kube-proxy kubelet; do
    stop_pid "$name"
  done
  # The pods' containers: killed through containerd while it runs, then their shims by PID.
  local ctr_cmd=(ctr --address "$dir/containerd.sock" --namespace k8s.io)
  if alive "$(running_pid containerd)"; then
    local task
    for task in $("${ctr_cmd[@]}" tasks list -q 2>/dev/null); do
      "${ctr_cmd[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
  fi
  stop_pid containerd
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $dir/containerd.sock" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Whatever is left in the pods' cgroups, then the cgroups themselves (deepest first).
  local cgroup
  for cgroup in /sys/fs/cgroup/*/kubepods; do
    [[ -d $cgroup ]] || continue
    find "$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
  done
  for _ in $(seq 1 50); do
    [[ -z $(find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null) ]] && break
    sleep 0.1
  done
  for cgroup in /sys/fs/cgroup/*/kubepods; do
    if [[ -d $cgroup ]]; then find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  # The pods' network namespaces (their veths go with them) and every mount under the state.
  local mount
  for mount in /run/netns/cni-*; do
    [[ -e $mount ]] || continue
    umount "$mount" 2>/dev/null || true
    rm -f "$mount"
  done
  awk '{ print $5 }' /proc/self/mountinfo | { grep -E "^($dir|/run/containerd|/var/lib/kubelet)(/|$)" || true; } |
    sort -r | while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || say "could not unmount $mount"
  done
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pid "$name"; done
  [[ -n ${node_bin:-} ]] || node_bin=$(bash scripts/build-node.sh --print-dir)
  "$node_bin/kube-proxy" --cleanup >>"$dir/logs/kube-proxy-cleanup.log" 2>&1 || true
  "$node_bin/kube-router" --cleanup-config >>"$dir/logs/kube-router-cleanup.log" 2>&1 || true
  network_down
  # Fixed paths the runtime and the kubelet made (only those that did not exist before `up`).
  if [[ -f $dir/created-paths ]]; then
    while read -r path; do rm -rf "$path"; done <"$dir/created-paths"
  fi
  rm -f /var/log/containers/*"_$NODE_NAME"* 2>/dev/null || true
  rm -rf "$dir"
  say "down"
}

status() {
  if [[ ! -f $pids_file ]]; then
    echo "down"
    return 3
  fi
  local name pid
  while read -r name pid; do
    if alive "$pid"; then echo "$name $pid running"; else echo "$name $pid exited"; fi
  done <"$pids_file"
  echo "KUBECONFIG=$dir/admin.kubeconfig"
  echo "SPEC=$dir/spec-fragment.yaml"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  images) images ;;
  *)
    echo "usage: bash scripts/test-cluster.sh up|down|status|images" >&2
    exit 2
    ;;
esac

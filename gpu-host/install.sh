#!/usr/bin/env bash
# One-time set-up of an Ubuntu 24.04 GPU instance (cloud-init runs it from the user data):
# the NVIDIA driver, Docker with its compose plugin, the NVIDIA Container Toolkit, and the
# systemd unit that runs `start.sh start` at every boot. Each step is skipped when already
# done, so the same script suits AWS's GPU AMIs that ship the driver, Docker and the toolkit.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config=${STRATUS_GPU_HOST_CONFIG:-/etc/stratus-gpu-host/host.env}
# shellcheck source=/dev/null
source "$config"
driver_branch=${NVIDIA_DRIVER_BRANCH:-570}

apt_install() {
  apt-get install -y -q --no-install-recommends "$@"
}

apt-get update -q
apt_install ca-certificates curl gnupg python3-boto3

if ! nvidia-smi >/dev/null 2>&1; then
  apt_install ubuntu-drivers-common
  ubuntu-drivers install --gpgpu "nvidia:${driver_branch}-server"
  apt_install "nvidia-utils-${driver_branch}-server"
  modprobe nvidia
  nvidia-smi >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
  apt_install docker.io docker-compose-v2
fi

if ! command -v nvidia-ctk >/dev/null 2>&1; then
  keyring=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
  curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --batch --yes --dearmor -o "$keyring"
  curl -fsSL https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list |
    sed "s#deb https://#deb [signed-by=$keyring] https://#g" >/etc/apt/sources.list.d/nvidia-container-toolkit.list
  apt-get update -q
  apt_install nvidia-container-toolkit
fi
nvidia-ctk runtime configure --runtime=docker
systemctl restart docker

install -m 0644 "$here/stratus-gpu-host.service" /etc/systemd/system/stratus-gpu-host.service
systemctl daemon-reload
systemctl enable --now stratus-gpu-host.service

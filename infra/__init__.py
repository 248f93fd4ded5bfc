"""Deployment tooling: the Lambda packaging (``infra.packaging``) and the GPU host's user data
(``infra.gpu_host``). Nothing here reaches AWS."""

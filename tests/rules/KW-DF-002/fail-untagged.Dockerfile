ARG REGISTRY=registry.example.com
FROM ${REGISTRY}/base/python
USER 1000

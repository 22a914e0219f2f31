FROM nginx:1.27.0@sha256:6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e AS base
HEALTHCHECK --interval=30s --timeout=3s CMD curl -f http://localhost/ || exit 1
FROM base
USER 101

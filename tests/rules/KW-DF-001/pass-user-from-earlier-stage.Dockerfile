FROM node:20.12.2-alpine@sha256:3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b AS base
USER node
FROM base
COPY --chown=node:node . /home/node/app
CMD ["node", "/home/node/app/server.js"]

# The evledger service image (used by docker-compose.yml). Chain and database come from
# ETH_RPC_URL and DATABASE_URL; no embedded services run inside the container.
#
# Not built on the development machines (no Docker daemon there): when you change it, build it
# once (`docker compose build`) and say so in the change.

# The verification page and the QA console (web/dist), and Swagger UI's files, from the lockfile.
FROM node:20-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
COPY web/ web/
RUN node web/verify/build.mjs && node web/console/build.mjs

FROM python:3.11-slim
WORKDIR /src
# Third-party packages exactly as locked, each checked against its hash (docs/release.md).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
# Our three packages, built from these sources and installed without dependencies (so no name
# is looked up on a public index: evledger-verify and evledger-ingest are not published). The
# wheel copies in what the service reads at run time: the contract artifact, the pages and
# Swagger UI's assets (api/web_dist, api/swagger_ui and ledger/contracts link to them).
COPY LICENSE README.md pyproject.toml ./
COPY verifier/ verifier/
COPY ingest/ ingest/
COPY ledger/ ledger/
COPY api/ api/
COPY contracts/EvidenceAnchor.json contracts/EvidenceAnchor.json
COPY --from=web /src/web/dist/ web/dist/
COPY --from=web /src/node_modules/swagger-ui-dist/ node_modules/swagger-ui-dist/
RUN pip install --no-cache-dir --no-deps ./verifier ./ingest . \
    && pip check \
    && cd / && rm -rf /src \
    && useradd --system --uid 10001 evledger && mkdir /data && chown evledger /data
WORKDIR /data
USER evledger
EXPOSE 8000
CMD ["evledger", "up"]

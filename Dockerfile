# The evledger service image (used by docker-compose.yml). Chain and database come from
# ETH_RPC_URL and DATABASE_URL; no embedded services run inside the container.

# The verification page (web/dist/verify.html) and Swagger UI's files, from the lockfile.
FROM node:20-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
COPY web/ web/
RUN node web/verify/build.mjs

FROM python:3.11-slim
WORKDIR /app
COPY verifier/ verifier/
COPY pyproject.toml README.md ./
COPY ledger/ ledger/
COPY api/ api/
COPY ingest/ ingest/
COPY contracts/EvidenceAnchor.json contracts/EvidenceAnchor.json
COPY --from=web /src/web/dist/ web/dist/
COPY --from=web /src/node_modules/swagger-ui-dist/ node_modules/swagger-ui-dist/
RUN pip install --no-cache-dir ./verifier -e . && useradd --system --uid 10001 evledger \
    && mkdir /data && chown evledger /data
USER evledger
EXPOSE 8000
CMD ["evledger", "up"]

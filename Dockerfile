# The evledger service image (used by docker-compose.yml). Chain and database come from
# ETH_RPC_URL and DATABASE_URL; no embedded services run inside the container.
FROM python:3.11-slim
WORKDIR /app
COPY verifier/ verifier/
COPY pyproject.toml README.md ./
COPY ledger/ ledger/
COPY api/ api/
COPY ingest/ ingest/
COPY contracts/EvidenceAnchor.json contracts/EvidenceAnchor.json
RUN pip install --no-cache-dir ./verifier -e . && useradd --system --uid 10001 evledger \
    && mkdir /data && chown evledger /data
USER evledger
EXPOSE 8000
CMD ["evledger", "up"]

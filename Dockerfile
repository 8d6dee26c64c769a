# s3-anomaly-detector: `detector` in a slim image, run as a non-root user.
#   docker build -t s3-detector .
#   docker run --rm s3-detector demo
#   docker run --rm -e AWS_REGION -v /var/lib/s3-detector:/data s3-detector \
#       tail sqs --queue-url "$QUEUE_URL" --lake s3://lake-bucket/detector --catalog glue
# Credentials come from the standard AWS chain (a task role on ECS, IRSA on EKS).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY detector ./detector
COPY models ./models
COPY hunts ./hunts
COPY sample_logs ./sample_logs
COPY scripts/install.sh ./scripts/install.sh
# The same steps as scripts/install.sh everywhere else (tests/test_packaging.py checks them).
RUN scripts/install.sh /opt/s3-detector

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home detector
COPY --from=build /opt/s3-detector /opt/s3-detector
ENV PATH=/opt/s3-detector/bin:$PATH \
    XDG_STATE_HOME=/data/state \
    PYTHONUNBUFFERED=1
USER detector
WORKDIR /data
ENTRYPOINT ["detector"]
CMD ["--help"]

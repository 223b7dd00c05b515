FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY marketplace ./marketplace
COPY workers ./workers
RUN pip install --no-cache-dir .
ENV TILEWORK_HOST=0.0.0.0
EXPOSE 8000
CMD ["tilework", "serve"]

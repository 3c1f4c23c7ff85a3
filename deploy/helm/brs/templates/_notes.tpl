{{- define "brs.notes" -}}
{{- $engine := include "brs.engine" . | fromYaml -}}
{{- $full := include "brs.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $type := .Values.database.type -}}
{{- $storageSecret := include "brs.storageSecretName" . -}}
{{ $type }} with the brs sidecar: StatefulSet {{ $ns }}/{{ $full }}, storage {{ .Values.storage.type }}, backups "{{ .Values.backup.schedule }}".

The pod starts once these Secrets exist (the chart does not create them, so their values never
pass through Helm). Create them now if you have not:
{{- if include "brs.dbAuth" . }}
{{- if eq $type "postgres" }}

  # database password (file /secrets/database/password; POSTGRES_PASSWORD_FILE)
  kubectl -n {{ $ns }} create secret generic {{ include "brs.dbSecretName" . }} \
    --from-literal=password="$(openssl rand -hex 24)"
{{- else if has $type (list "redis" "valkey" "keydb") }}

  # database password, for brs (password) and for the server (redis.conf: requirepass)
  PASSWORD="$(openssl rand -hex 24)"
  kubectl -n {{ $ns }} create secret generic {{ include "brs.dbSecretName" . }} \
    --from-literal=password="$PASSWORD" --from-literal=redis.conf="requirepass $PASSWORD"
{{- else if eq $type "meilisearch" }}

  # master key, for brs (password) and for the server (config.toml: master_key)
  KEY="$(openssl rand -hex 24)"
  kubectl -n {{ $ns }} create secret generic {{ include "brs.dbSecretName" . }} \
    --from-literal=password="$KEY" --from-literal=config.toml="master_key = \"$KEY\""
{{- else if eq $type "rethinkdb" }}

  # admin password, for brs (password; also the admin password of restored servers) and for
  # the server's first start (rethinkdb.conf: initial-password)
  PASSWORD="$(openssl rand -hex 24)"
  kubectl -n {{ $ns }} create secret generic {{ include "brs.dbSecretName" . }} \
    --from-literal=password="$PASSWORD" --from-literal=rethinkdb.conf="initial-password=$PASSWORD"
{{- else if eq $type "etcd" }}

  # password of the etcd user {{ include "brs.dbUsername" . }} (root role; enable etcd auth yourself)
  kubectl -n {{ $ns }} create secret generic {{ include "brs.dbSecretName" . }} \
    --from-literal=password='...'
{{- end }}
{{- end }}
{{- if $storageSecret }}
{{- if eq .Values.storage.type "s3" }}

  # S3 keys (files /secrets/storage/access-key and secret-key)
  kubectl -n {{ $ns }} create secret generic {{ $storageSecret }} \
    --from-literal=access-key='...' --from-literal=secret-key='...'
{{- else if eq .Values.storage.type "gcs" }}

  # GCS service account key (file /secrets/storage/credentials.json)
  kubectl -n {{ $ns }} create secret generic {{ $storageSecret }} \
    --from-file=credentials.json=./service-account-key.json
{{- else if eq .Values.storage.type "azure" }}

  # Azure storage connection string (file /secrets/storage/connection-string)
  kubectl -n {{ $ns }} create secret generic {{ $storageSecret }} \
    --from-literal=connection-string='DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...'
{{- end }}
{{- end }}
{{- if .Values.encryption.enabled }}
{{- if .Values.encryption.existingSecret }}

  # encryption key: 32 ASCII characters. KEEP A COPY OUTSIDE THE CLUSTER: without it no
  # backup can be read.
  kubectl -n {{ $ns }} create secret generic {{ .Values.encryption.existingSecret }} \
    --from-literal=encryption-key="$(openssl rand -hex 16)"
{{- else if .Values.encryption.create }}

The encryption key is in Secret {{ include "brs.encryptionSecretName" . }}, created once by this chart and kept
on upgrades and uninstall. KEEP A COPY OUTSIDE THE CLUSTER: without it no backup can be read.

  kubectl -n {{ $ns }} get secret {{ include "brs.encryptionSecretName" . }} -o jsonpath='{.data.encryption-key}' | base64 -d
{{- end }}
{{- end }}

Backups through the sidecar (its API listens on the pod's loopback only):

  kubectl -n {{ $ns }} exec {{ $full }}-0 -c brs -- {{ include "brs.executable" . }} backups list --server http://127.0.0.1:8000
  kubectl -n {{ $ns }} exec {{ $full }}-0 -c brs -- {{ include "brs.executable" . }} backup --server http://127.0.0.1:8000
  kubectl -n {{ $ns }} exec {{ $full }}-0 -c brs -- {{ include "brs.executable" . }} restore latest --server http://127.0.0.1:8000

Metrics: port {{ .Values.brs.metricsPort }} (metrics) of Service {{ $full }}. docs/kubernetes.md has the rest.
{{- end }}

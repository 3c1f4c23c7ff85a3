{{/*
What each database type needs: its official image, port, where its data lives, its command,
how it reads its credentials (always from files of the mounted Secret), and its brs options.
`glibc: false` marks official images the provision model cannot serve (distroless or musl).
*/}}
{{- define "brs.engines" -}}
postgres:
  image: docker.io/library/postgres
  tag: "15"
  glibc: true
  port: 5432
  portName: postgres
  mount: /var/lib/postgresql/data
  dataDirectory: /var/lib/postgresql/data/pgdata
  command: [docker-entrypoint.sh, postgres]
  auth: true
  username: postgres
  scratch: [/run/postgresql]
redis:
  image: docker.io/library/redis
  tag: "7.2"
  glibc: true
  port: 6379
  portName: redis
  mount: /data
  dataDirectory: /data
  command: [redis-server, --dir, /data, --appendonly, "yes"]
  auth: false
valkey:
  image: docker.io/valkey/valkey
  tag: "8.0"
  glibc: true
  port: 6379
  portName: valkey
  mount: /data
  dataDirectory: /data
  command: [valkey-server, --dir, /data, --appendonly, "yes"]
  auth: false
keydb:
  image: docker.io/eqalpha/keydb
  tag: x86_64_v6.3.4
  glibc: true
  port: 6379
  portName: keydb
  mount: /data
  dataDirectory: /data
  command: [keydb-server, --dir, /data, --appendonly, "yes"]
  auth: false
etcd:
  image: gcr.io/etcd-development/etcd
  tag: v3.5.16
  glibc: false
  port: 2379
  portName: etcd
  mount: /var/lib/etcd
  dataDirectory: /var/lib/etcd/default.etcd
  command: [etcd, --name, default, --data-dir, /var/lib/etcd/default.etcd, --listen-client-urls, "http://0.0.0.0:2379", --advertise-client-urls, "http://127.0.0.1:2379"]
  auth: false
  username: root
meilisearch:
  image: docker.io/getmeili/meilisearch
  tag: v1.21.0
  glibc: false
  port: 7700
  portName: http
  mount: /meili_data
  dataDirectory: /meili_data/data.ms
  command: [meilisearch, --db-path, /meili_data/data.ms, --dump-dir, /dumps, --http-addr, "0.0.0.0:7700", --no-analytics]
  auth: true
  shared: [/dumps]
rethinkdb:
  image: docker.io/library/rethinkdb
  tag: 2.4.4-bookworm-slim
  glibc: true
  port: 28015
  portName: driver
  mount: /data
  dataDirectory: /data/rethinkdb
  command: [rethinkdb, --directory, /data/rethinkdb, --bind, all, --no-update-check, --no-http-admin]
  auth: true
  sidecarScratch: [/scratch]
localfs:
  image: docker.io/library/debian
  tag: bookworm-slim
  glibc: true
  port: 0
  mount: /data
  dataDirectory: /data
  command: [sleep, infinity]
  auth: false
{{- end }}

{{/* The facts of the selected database type. */}}
{{- define "brs.engine" -}}
{{- $engines := include "brs.engines" . | fromYaml -}}
{{- $engine := get $engines .Values.database.type -}}
{{- if not $engine -}}
{{- fail (printf "database.type %q is not one of %s" .Values.database.type (keys $engines | sortAlpha | join ", ")) -}}
{{- end -}}
{{- toYaml $engine -}}
{{- end }}

{{- define "brs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "brs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{- define "brs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "brs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "brs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "brs.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .Values.database.type }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "brs.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "brs.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end }}

{{/* Whether the database runs with credentials. */}}
{{- define "brs.dbAuth" -}}
{{- $engine := include "brs.engine" . | fromYaml -}}
{{- if kindIs "bool" .Values.database.auth.enabled -}}
{{- ternary "true" "" .Values.database.auth.enabled -}}
{{- else -}}
{{- ternary "true" "" $engine.auth -}}
{{- end -}}
{{- end }}

{{- define "brs.dbSecretName" -}}
{{- default (printf "%s-db" (include "brs.fullname" .)) .Values.database.auth.existingSecret -}}
{{- end }}

{{- define "brs.dbUsername" -}}
{{- $engine := include "brs.engine" . | fromYaml -}}
{{- default ($engine.username | default "") .Values.database.auth.username -}}
{{- end }}

{{- define "brs.encryptionSecretName" -}}
{{- default (printf "%s-encryption-key" (include "brs.fullname" .)) .Values.encryption.existingSecret -}}
{{- end }}

{{/* The Secret with the storage credentials, or "" when the storage needs none in a Secret. */}}
{{- define "brs.storageSecretName" -}}
{{- $s := .Values.storage -}}
{{- $full := include "brs.fullname" . -}}
{{- if and (eq $s.type "s3") (eq $s.s3.auth "static") -}}
{{- default (printf "%s-s3" $full) $s.s3.existingSecret -}}
{{- else if and (eq $s.type "gcs") (eq $s.gcs.auth "static") -}}
{{- default (printf "%s-gcs" $full) $s.gcs.existingSecret -}}
{{- else if and (eq $s.type "azure") (eq $s.azure.auth "connectionString") -}}
{{- default (printf "%s-azure" $full) $s.azure.existingSecret -}}
{{- end -}}
{{- end }}

{{- define "brs.dbImage" -}}
{{- $engine := include "brs.engine" . | fromYaml -}}
{{- printf "%s:%s" (default $engine.image .Values.database.image.repository) (include "brs.dbImageTag" .) -}}
{{- end }}

{{- define "brs.dbImageTag" -}}
{{- $engine := include "brs.engine" . | fromYaml -}}
{{- default $engine.tag .Values.database.image.tag | toString -}}
{{- end }}

{{/* The image both containers run in the image model. */}}
{{- define "brs.brsImage" -}}
{{- $repository := default (printf "registry.example.com/brs-%s" .Values.database.type) .Values.image.repository -}}
{{- $tag := default (printf "%s-%s" .Chart.AppVersion (include "brs.dbImageTag" .)) (toString .Values.image.tag) -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end }}

{{- define "brs.provisionerImage" -}}
{{- printf "%s:%s" .Values.provisioner.image.repository (default .Chart.AppVersion (toString .Values.provisioner.image.tag)) -}}
{{- end }}

{{/* The brs program inside the containers. */}}
{{- define "brs.executable" -}}
{{- if eq .Values.model "provision" -}}
{{- printf "%s/bin/brs" .Values.provisioner.bundlePath -}}
{{- else -}}
brs
{{- end -}}
{{- end }}

{{- define "brs.objectPrefix" -}}
{{- default (printf "%s/%s" .Release.Namespace (include "brs.fullname" .)) .Values.backup.objectPrefix -}}
{{- end }}

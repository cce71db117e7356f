{{/* Chart name, overridable with nameOverride. */}}
{{- define "tokenpool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name: fullnameOverride, or <release>-<chart> (just the release
name when it already contains the chart name). Kubernetes names stop at 63 characters.
*/}}
{{- define "tokenpool.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "tokenpool.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "tokenpool.labels" -}}
helm.sh/chart: {{ include "tokenpool.chart" . }}
app.kubernetes.io/name: {{ include "tokenpool.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "api"). */}}
{{- define "tokenpool.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenpool.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "tokenpool.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tokenpool.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tokenpool.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "tokenpool.configMapName" -}}
{{- printf "%s-config" (include "tokenpool.fullname" .) }}
{{- end }}

{{/* The one place that insists on existingSecret, like a checks.yaml: every pod needs it. */}}
{{- define "tokenpool.secretName" -}}
{{- required "existingSecret is required: name a Secret in this namespace holding DATABASE_URL and REDIS_URL (see secretKeys)" .Values.existingSecret }}
{{- end }}

{{/*
One EnvVar read from existingSecret; call with (dict "ctx" $ "name" "REDIS_URL" "key"
.Values.secretKeys.redisUrl "optional" false). An empty key name renders nothing.
*/}}
{{- define "tokenpool.secretEnvVar" -}}
{{- if .key }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tokenpool.secretName" .ctx }}
      key: {{ .key | quote }}
      optional: {{ .optional }}
{{- end }}
{{- end }}

{{/*
DATABASE_OWNER_URL for the API only when it migrates at start (migrations.enabled=false);
otherwise the migration Job alone holds the owner's credentials. The worker never gets it.
*/}}
{{- define "tokenpool.apiOwnerUrl" -}}
{{- if not .Values.migrations.enabled }}
{{- include "tokenpool.secretEnvVar" (dict "ctx" . "name" "DATABASE_OWNER_URL" "key" .Values.secretKeys.databaseOwnerUrl "optional" true) }}
{{- end }}
{{- end }}

{{/*
Environment of the API and the worker: connection strings and keys from existingSecret,
INSTANCE_ID from the pod name (so logs and metrics name the pod), then extraEnv. The
ConfigMap is added with envFrom.
*/}}
{{- define "tokenpool.env" -}}
{{- include "tokenpool.secretEnvVar" (dict "ctx" . "name" "DATABASE_URL" "key" .Values.secretKeys.databaseUrl "optional" false) }}
{{- include "tokenpool.secretEnvVar" (dict "ctx" . "name" "REDIS_URL" "key" .Values.secretKeys.redisUrl "optional" false) }}
{{- include "tokenpool.secretEnvVar" (dict "ctx" . "name" "BOOTSTRAP_ADMIN_KEY" "key" .Values.secretKeys.bootstrapAdminKey "optional" true) }}
{{- include "tokenpool.secretEnvVar" (dict "ctx" . "name" "LEASE_SIGNING_KEY" "key" .Values.secretKeys.leaseSigningKey "optional" true) }}
- name: INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Pod annotations of one component: the prometheus.io scrape annotations for its metrics port
(when metrics.podAnnotations is on), then its own podAnnotations, which win on a clash. Call
with (dict "ctx" $ "port" .Values.config.metricsPort "extra" .Values.api.podAnnotations).
*/}}
{{- define "tokenpool.podAnnotations" -}}
{{- $annotations := dict }}
{{- if .ctx.Values.metrics.podAnnotations }}
{{- $_ := set $annotations "prometheus.io/scrape" "true" }}
{{- $_ = set $annotations "prometheus.io/port" (toString .port) }}
{{- $_ = set $annotations "prometheus.io/path" "/metrics" }}
{{- end }}
{{- $annotations = merge (deepCopy (default (dict) .extra)) $annotations }}
{{- with $annotations }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/* A pod-template checksum of the ConfigMap, so a config change rolls the pods. */}}
{{- define "tokenpool.configChecksum" -}}
{{- include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end }}

{{/*
An httpGet probe on the named port "http"; call with (dict "path" "/health/live" "timing"
.Values.api.probes.startup).
*/}}
{{- define "tokenpool.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
{{- toYaml .timing | nindent 0 }}
{{- end }}

{{/* Seconds Kubernetes waits after SIGTERM: the service's own drain bound plus a margin. */}}
{{- define "tokenpool.terminationGracePeriodSeconds" -}}
{{- add .Values.config.shutdownGraceSeconds 5 }}
{{- end }}

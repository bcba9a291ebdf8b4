{{/* Chart name, overridable. */}}
{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every resource name: the release name when it already contains
the chart name (release "weir" gives weir-operator), else <release>-<name>.
Leaves room for the longest suffix (-object-store) within 63 characters.
*/}}
{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "weir.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weir.operatorName" -}}
{{- printf "%s-operator" (include "weir.fullname" .) -}}
{{- end -}}

{{- define "weir.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" -}}
{{- end -}}

{{/* Labels on every object (weir.labels) and on the operator's (weir.operatorLabels). */}}
{{- define "weir.commonLabels" -}}
helm.sh/chart: {{ include "weir.chart" . }}
app.kubernetes.io/part-of: {{ include "weir.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "weir.labels" -}}
{{ include "weir.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of the operator pods (never changes across upgrades). */}}
{{- define "weir.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "weir.operatorLabels" -}}
{{ include "weir.commonLabels" . }}
{{ include "weir.operatorSelectorLabels" . }}
{{- end -}}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weir.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weir.podServiceAccountName" -}}
{{- default (printf "%s-pipeline" (include "weir.fullname" .)) .Values.podServiceAccount.name -}}
{{- end -}}

{{/* Namespace where component pods run when it is one namespace. */}}
{{- define "weir.pipelineNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}

{{- define "weir.leaseName" -}}
{{- default (include "weir.operatorName" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{- define "weir.objectStoreSecretName" -}}
{{- default (printf "%s-object-store" (include "weir.fullname" .)) .Values.objectStore.existingSecret -}}
{{- end -}}

{{- define "weir.metadataClaimName" -}}
{{- default (printf "%s-metadata" (include "weir.operatorName" .)) .Values.metadata.pvc.existingClaim -}}
{{- end -}}

{{- define "weir.image" -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .Values.image.registry) .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* weir-server: names, labels, image, how it reaches its store. */}}
{{- define "weir.serverName" -}}
{{- printf "%s-server" (include "weir.fullname" .) -}}
{{- end -}}

{{- define "weir.serverSelectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}-server
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "weir.serverLabels" -}}
{{ include "weir.commonLabels" . }}
{{ include "weir.serverSelectorLabels" . }}
{{- end -}}

{{- define "weir.serverImage" -}}
{{- $i := .Values.server.image -}}
{{- printf "%s/%s:%s" (default .Values.image.registry $i.registry | trimSuffix "/") $i.repository (default .Chart.AppVersion $i.tag) -}}
{{- end -}}

{{- define "weir.serverTokenSecretName" -}}
{{- default (printf "%s-token" (include "weir.serverName" .)) .Values.server.existingTokenSecret -}}
{{- end -}}

{{/* The key of the token Secret that holds the write token. */}}
{{- define "weir.serverTokenSecretKey" -}}
{{- ternary .Values.server.existingTokenSecretKey "token" (ne .Values.server.existingTokenSecret "") -}}
{{- end -}}

{{/*
Where the operator keeps its metadata: "server" (published through
weir-server's REST API) or "sqlite" (its own file under metadata.mountPath).
Fails on anything else, and on "server" without a server to publish to.
*/}}
{{- define "weir.metadataStore" -}}
{{- $s := .Values.metadata.store -}}
{{- if not (has $s (list "server" "sqlite")) -}}
{{- fail (printf "metadata.store must be server or sqlite, not %q" $s) -}}
{{- end -}}
{{- if and (eq $s "server") (not .Values.server.enabled) -}}
{{- fail "metadata.store=server needs server.enabled=true; set metadata.store=sqlite to keep metadata in the operator's own SQLite file" -}}
{{- end -}}
{{- $s -}}
{{- end -}}

{{/* The operator's --metadata in server mode: weir-server's Service. */}}
{{- define "weir.metadataServerURL" -}}
{{- printf "http://%s.%s.svc:%v" (include "weir.serverName" .) .Release.Namespace .Values.server.service.port -}}
{{- end -}}

{{- define "weir.serverClaimName" -}}
{{- default (printf "%s-data" (include "weir.serverName" .)) .Values.server.persistence.existingClaim -}}
{{- end -}}

{{/* sqlite | postgresql (the chart's) | url (server.store.url) | secret (server.store.existingSecret) */}}
{{- define "weir.serverStore" -}}
{{- $s := .Values.server.store -}}
{{- $n := 0 -}}
{{- if $s.url }}{{ $n = add1 $n }}{{ end -}}
{{- if $s.existingSecret }}{{ $n = add1 $n }}{{ end -}}
{{- if .Values.postgresql.enabled }}{{ $n = add1 $n }}{{ end -}}
{{- if gt $n 1 -}}
{{- fail "give at most one of server.store.url, server.store.existingSecret and postgresql.enabled" -}}
{{- end -}}
{{- if $s.existingSecret }}secret{{ else if $s.url }}url{{ else if .Values.postgresql.enabled }}postgresql{{ else }}sqlite{{ end -}}
{{- end -}}

{{- define "weir.postgresqlName" -}}
{{- printf "%s-postgresql" (include "weir.fullname" .) -}}
{{- end -}}

{{- define "weir.postgresqlSecretName" -}}
{{- default (include "weir.postgresqlName" .) .Values.postgresql.existingSecret -}}
{{- end -}}

{{- define "weir.postgresqlSelectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}-postgresql
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: database
{{- end -}}

{{- define "weir.postgresqlLabels" -}}
{{ include "weir.commonLabels" . }}
{{ include "weir.postgresqlSelectorLabels" . }}
{{- end -}}

{{/* Names and labels ---------------------------------------------------------------------- */}}
{{- define "ranml.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ranml.fullname" -}}
{{- $name := include "ranml.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ranml.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ranml.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ranml.labels" -}}
{{ include "ranml.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/part-of: ranml
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.site }}
ranml.io/site: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Pod-level pieces ----------------------------------------------------------------------- */}}
{{- define "ranml.podAnnotations" -}}
{{- if .Values.metrics.enabled }}
prometheus.io/scrape: "true"
prometheus.io/path: {{ .Values.metrics.path | quote }}
prometheus.io/port: {{ .Values.httpPort | default 8080 | quote }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "ranml.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "ranml.containerSecurityContext" -}}
runAsNonRoot: true
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "ranml.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "ranml.image" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end -}}

{{- define "ranml.resources" -}}
{{- $r := .Values.resources -}}
resources:
  {{- range $kind := list "requests" "limits" }}
  {{- $l := index $r $kind }}
  {{ $kind }}:
    {{- with $l.cpu }}
    cpu: {{ . | quote }}
    {{- end }}
    {{- with $l.memory }}
    memory: {{ . | quote }}
    {{- end }}
    {{- with (index $l "nvidia.com/gpu") }}
    nvidia.com/gpu: {{ . }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* HTTP probes on the given paths: (dict "port" 8080 "alive" "/path" "ready" "/path") */}}
{{- define "ranml.probes" -}}
livenessProbe:
  httpGet:
    path: {{ .alive }}
    port: {{ .port }}
  initialDelaySeconds: 5
  periodSeconds: 15
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: {{ .ready }}
    port: {{ .port }}
  initialDelaySeconds: 3
  periodSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Model artefacts: volumes and the init container that fills them (source pvc | image) */}}
{{- define "ranml.artefacts" -}}
{{- toJson ((.Values.model | default dict).artefacts | default (dict "source" "none" "path" "/models")) -}}
{{- end -}}

{{- define "ranml.modelVolumes" -}}
{{- $a := include "ranml.artefacts" . | fromJson -}}
{{- if eq $a.source "pvc" }}
- name: models
  persistentVolumeClaim:
    claimName: {{ required "model.artefacts.claimName is required when model.artefacts.source is pvc" $a.claimName }}
    readOnly: true
{{- else if eq $a.source "image" }}
- name: models
  emptyDir: {}
{{- end }}
{{- end -}}

{{- define "ranml.modelMounts" -}}
{{- $a := include "ranml.artefacts" . | fromJson -}}
{{- if ne $a.source "none" }}
- name: models
  mountPath: {{ $a.path }}
  readOnly: {{ eq $a.source "pvc" }}
{{- end }}
{{- end -}}

{{- define "ranml.modelInit" -}}
{{- $a := include "ranml.artefacts" . | fromJson -}}
{{- if eq $a.source "image" }}
initContainers:
  - name: model-artefacts
    image: {{ required "model.artefacts.image is required when model.artefacts.source is image" $a.image | quote }}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "cp -a /models/. {{ $a.path }}/"]
    securityContext:
      {{- include "ranml.containerSecurityContext" . | nindent 6 }}
    resources:
      requests: {cpu: 50m, memory: 64Mi}
      limits: {cpu: 500m, memory: 256Mi}
    volumeMounts:
      - name: models
        mountPath: {{ $a.path }}
{{- end }}
{{- end -}}

{{- define "ranml.pdb" -}}
{{- if and .Values.pdb.enabled (gt (int .Values.replicas) 0) }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "ranml.fullname" . }}
  labels:
    {{- include "ranml.labels" . | nindent 4 }}
spec:
  minAvailable: {{ .Values.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "ranml.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{- define "ranml.httpService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "ranml.fullname" . }}
  labels:
    {{- include "ranml.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "ranml.selectorLabels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.httpPort }}
      targetPort: http
      protocol: TCP
{{- end -}}

{{/* A single-container Deployment for the ranml apps.
     (dict "ctx" $ "args" (list ...) "alive" "/healthz" "ready" "/readyz"
           "env" "<yaml list>" "ports" "<yaml list>" "volumes" "<yaml list>" "mounts" "<yaml list>"
           "pod" "<extra pod spec yaml>") */}}
{{- define "ranml.deployment" -}}
{{- $ := .ctx -}}
{{- $v := $.Values -}}
{{- $model := $v.model | default (dict "alias" "none") -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ranml.fullname" $ }}
  labels:
    {{- include "ranml.labels" $ | nindent 4 }}
    ranml.io/model-version: {{ $model.version | default "alias" | quote }}
spec:
  replicas: {{ $v.replicas }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "ranml.selectorLabels" $ | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ranml.selectorLabels" $ | nindent 8 }}
        {{- with $v.site }}
        ranml.io/site: {{ . | quote }}
        {{- end }}
      annotations:
        ranml.io/model-version: {{ $model.version | default (printf "alias:%s" $model.alias) | quote }}
        {{- with .checksum }}
        checksum/config: {{ . }}
        {{- end }}
        {{- include "ranml.podAnnotations" $ | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        {{- include "ranml.podSecurityContext" $ | nindent 8 }}
      {{- include "ranml.scheduling" $ | nindent 6 }}
      {{- include "ranml.modelInit" $ | nindent 6 }}
      {{- with .pod }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ include "ranml.name" $ }}
          {{- include "ranml.image" $ | nindent 10 }}
          command: ["ranml"]
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            - {name: RANML_SITE, value: {{ $v.site | quote }}}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
          ports:
            - {name: http, containerPort: {{ $v.httpPort }}, protocol: TCP}
            {{- with .ports }}
            {{- . | nindent 12 }}
            {{- end }}
          {{- include "ranml.probes" (dict "port" "http" "alive" .alive "ready" .ready) | nindent 10 }}
          securityContext:
            {{- include "ranml.containerSecurityContext" $ | nindent 12 }}
          {{- include "ranml.resources" $ | nindent 10 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            {{- include "ranml.modelMounts" $ | nindent 12 }}
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- include "ranml.modelVolumes" $ | nindent 8 }}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end -}}

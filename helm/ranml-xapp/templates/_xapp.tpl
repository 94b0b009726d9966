{{/* The config-file.json of one track: (dict "ctx" $ "version" "1.2.0") */}}
{{- define "xapp.configFile" -}}
{{- $v := .ctx.Values -}}
{{- if not $v.descriptor.name -}}
{{- fail "descriptor is empty: render with `ranml helm render` (it builds it from the app) or set descriptor to the output of `ranml xapp descriptor`" -}}
{{- end -}}
{{- $controls := mergeOverwrite (deepCopy ($v.descriptor.controls | default dict)) (deepCopy $v.config) -}}
{{- if $v.model.name -}}
{{- $_ := set $controls "model" $v.model.name -}}
{{- $_ := set $controls "registry" $v.model.registry -}}
{{- $_ := set $controls "model_alias" (.version | default $v.model.alias) -}}
{{- end -}}
{{- toPrettyJson (set (deepCopy $v.descriptor) "controls" $controls) -}}
{{- end -}}

{{/* The RMR seed route table */}}
{{- define "xapp.routes" -}}
newrt|start
{{- range .Values.rmr.routes }}
rte|{{ .mtype }}|{{ join "," .endpoints }}
{{- end }}
newrt|end
{{- end -}}

{{- define "xapp.rmrService" -}}
service-{{ .Release.Namespace }}-{{ .Release.Name }}-rmr
{{- end -}}

{{/* One Deployment: (dict "ctx" $ "track" "stable"|"canary" "replicas" N "version" V) */}}
{{- define "xapp.deployment" -}}
{{- $ := .ctx -}}
{{- $v := $.Values -}}
{{- $name := printf "%s%s" (include "ranml.fullname" $) (ternary "" "-canary" (eq .track "stable")) -}}
{{- $version := .version | default $v.model.version -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "ranml.labels" $ | nindent 4 }}
    ranml.io/track: {{ .track }}
    ranml.io/model-version: {{ $version | default "alias" | quote }}
spec:
  replicas: {{ .replicas }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 0, maxSurge: 1}
  selector:
    matchLabels:
      {{- include "ranml.selectorLabels" $ | nindent 6 }}
      ranml.io/track: {{ .track }}
  template:
    metadata:
      labels:
        {{- include "ranml.selectorLabels" $ | nindent 8 }}
        ranml.io/track: {{ .track }}
        {{- with $v.site }}
        ranml.io/site: {{ . | quote }}
        {{- end }}
      annotations:
        ranml.io/model-version: {{ $version | default (printf "alias:%s" $v.model.alias) | quote }}
        checksum/config: {{ include "xapp.configFile" (dict "ctx" $ "version" $version) | sha256sum }}
        {{- include "ranml.podAnnotations" $ | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      securityContext:
        {{- include "ranml.podSecurityContext" $ | nindent 8 }}
      {{- include "ranml.scheduling" $ | nindent 6 }}
      {{- include "ranml.modelInit" $ | nindent 6 }}
      containers:
        - name: {{ include "ranml.name" $ }}
          {{- include "ranml.image" $ | nindent 10 }}
          command: ["ranml"]
          args:
            - xapp
            - run
            - {{ $v.app | quote }}
            - --config=/opt/ric/config/config-file.json
            - --rmr-port={{ $v.rmr.dataPort }}
            - --http-port={{ $v.httpPort }}
            - --transport={{ $v.transport }}
            - --state={{ ternary "redis" "memory" (ne $v.sdl.host "") }}
            {{- if $v.e2.submgrUrl }}
            - --submgr-url={{ $v.e2.submgrUrl }}
            {{- end }}
            {{- if $v.e2.e2mgrUrl }}
            - --e2mgr-url={{ $v.e2.e2mgrUrl }}
            {{- end }}
            {{- range $v.e2.nodes }}
            - --node={{ . }}
            {{- end }}
            {{- if eq $v.logLevel "DEBUG" }}
            - --verbose
            {{- end }}
          env:
            - {name: CONFIG_FILE, value: /opt/ric/config/config-file.json}
            - {name: RMR_SEED_RT, value: /opt/ric/config/router.txt}
            - {name: RMR_SRC_ID, value: {{ include "xapp.rmrService" $ | quote }}}
            - {name: RMR_RTG_SVC, value: {{ $v.rmr.routePort | quote }}}
            {{- if $v.sdl.host }}
            - {name: DBAAS_SERVICE_HOST, value: {{ $v.sdl.host | quote }}}
            - {name: DBAAS_SERVICE_PORT, value: {{ $v.sdl.port | quote }}}
            {{- end }}
            - {name: RANML_SITE, value: {{ $v.site | quote }}}
          ports:
            - {name: http, containerPort: {{ $v.httpPort }}, protocol: TCP}
            - {name: rmrdata, containerPort: {{ $v.rmr.dataPort }}, protocol: TCP}
            - {name: rmrroute, containerPort: {{ $v.rmr.routePort }}, protocol: TCP}
          {{- include "ranml.probes" (dict "port" "http" "alive" "/ric/v1/health/alive" "ready" "/ric/v1/health/ready") | nindent 10 }}
          securityContext:
            {{- include "ranml.containerSecurityContext" $ | nindent 12 }}
          {{- include "ranml.resources" $ | nindent 10 }}
          volumeMounts:
            - {name: config, mountPath: /opt/ric/config, readOnly: true}
            - {name: tmp, mountPath: /tmp}
            {{- include "ranml.modelMounts" $ | nindent 12 }}
      volumes:
        - name: config
          configMap:
            name: {{ $name }}-config
        - name: tmp
          emptyDir: {}
        {{- include "ranml.modelVolumes" $ | nindent 8 }}
{{- end -}}

{{- define "xapp.configMap" -}}
{{- $ := .ctx -}}
{{- $name := printf "%s%s" (include "ranml.fullname" $) (ternary "" "-canary" (eq .track "stable")) -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}-config
  labels:
    {{- include "ranml.labels" $ | nindent 4 }}
    ranml.io/track: {{ .track }}
data:
  config-file.json: |-
    {{- include "xapp.configFile" (dict "ctx" $ "version" .version) | nindent 4 }}
  router.txt: |-
    {{- include "xapp.routes" $ | nindent 4 }}
{{- end -}}

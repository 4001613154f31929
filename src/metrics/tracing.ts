/**
 * Optional OpenTelemetry traces of the queues (BullMQ's `telemetry` option through
 * bullmq-otel): a span for every job added and processed, linked across processes.
 * Off unless the standard OTEL_* environment asks for OTLP export: OTEL_TRACES_EXPORTER=otlp,
 * or an OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. OTEL_SDK_DISABLED=true
 * and OTEL_TRACES_EXPORTER=none turn it off. Protocol http/protobuf (the default) or
 * http/json; the exporter itself reads the endpoint, headers and timeout variables, the
 * SDK the sampler ones, the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
 */
import type { Telemetry } from 'bullmq';

export interface Tracing {
  /** Hand to BullMQ's Queue and Worker options; undefined when tracing is off. */
  readonly telemetry?: Telemetry;
  /** Why tracing is off, or where spans go. */
  readonly description: string;
  /** Sends the spans still buffered, then stops. */
  shutdown(): Promise<void>;
}

export interface TracingPlan {
  enabled: boolean;
  protocol?: 'http/protobuf' | 'http/json';
  /** A reason for the log: why it is off, or a warning about an unsupported setting. */
  note: string;
  warning?: boolean;
}

const OFF: Tracing = { description: 'tracing off', shutdown: async () => undefined };

/** Decide from the environment alone (no SDK loaded). */
export function tracingPlan(env: NodeJS.ProcessEnv): TracingPlan {
  const val = (v: string | undefined) => v?.trim() || undefined;
  if (val(env.OTEL_SDK_DISABLED)?.toLowerCase() === 'true') return { enabled: false, note: 'tracing off (OTEL_SDK_DISABLED=true)' };
  const exporters = (val(env.OTEL_TRACES_EXPORTER) ?? '').toLowerCase().split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.includes('none')) return { enabled: false, note: 'tracing off (OTEL_TRACES_EXPORTER=none)' };
  const endpoint = val(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? val(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const unsupported = exporters.filter((e) => e !== 'otlp');
  if (unsupported.length && !exporters.includes('otlp')) {
    return { enabled: false, warning: true, note: `tracing off: OTEL_TRACES_EXPORTER=${unsupported.join(',')} is not supported here (only otlp)` };
  }
  if (!exporters.includes('otlp') && !endpoint) return { enabled: false, note: 'tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT)' };
  const protocol = (val(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? val(env.OTEL_EXPORTER_OTLP_PROTOCOL) ?? 'http/protobuf').toLowerCase();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    return {
      enabled: false,
      warning: true,
      note: `tracing off: OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported here (use http/protobuf or http/json, the collector's port 4318)`,
    };
  }
  return { enabled: true, protocol, note: `traces to ${endpoint ?? 'http://localhost:4318'} over OTLP ${protocol}` };
}

/** Start the SDK when the environment asks for it; the packages are loaded only then. */
export async function startTracing(opts: { env?: NodeJS.ProcessEnv; version: string; log?: (msg: string, warning: boolean) => void }): Promise<Tracing> {
  const plan = tracingPlan(opts.env ?? process.env);
  if (!plan.enabled) {
    opts.log?.(plan.note, Boolean(plan.warning));
    return { ...OFF, description: plan.note };
  }
  const [{ NodeTracerProvider, BatchSpanProcessor }, { resourceFromAttributes, detectResources, envDetector }, { BullMQOtel }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('bullmq-otel'),
  ]);
  const exporter =
    plan.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  // OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win over these defaults.
  const resource = resourceFromAttributes({ 'service.name': 'bulk-enroll', 'service.version': opts.version }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  // Global tracer provider, AsyncLocalStorage context and the W3C trace-context propagator
  // (BullMQ carries a job's context in the job, so a job's spans join the trace that added it).
  provider.register();
  opts.log?.(plan.note, false);
  return {
    telemetry: new BullMQOtel({ tracerName: 'bulk-enroll', version: opts.version }),
    description: plan.note,
    shutdown: async () => {
      await provider.shutdown().catch(() => undefined);
    },
  };
}

import type { Meter, ObservableGauge } from '@opentelemetry/api';

export interface OtelOptions {
  /** The meter to create the gauges on (default: metrics.getMeter('native-memwatch')). */
  meter?: Meter;
}

export interface OtelInstruments {
  nativeMemory: ObservableGauge;
  nativeBlocks: ObservableGauge;
  nativePeak: ObservableGauge;
  finalizersLive: ObservableGauge;
  externalReported: ObservableGauge;
  explained: ObservableGauge;
}

/** Creates the observable gauges (unit By, attribute native_memwatch.tag). */
export declare function observe(options?: OtelOptions): {
  instruments: OtelInstruments;
  unregister(): void;
};

export declare const TAG_ATTRIBUTE: 'native_memwatch.tag';
export declare const PART_ATTRIBUTE: 'native_memwatch.part';

// Ambient names that docs examples use without defining them, so that each example can
// stay short and still be type-checked (scripts/check-docs.mjs).
declare function doWork(signal: AbortSignal): Promise<string>;
declare function serveFromCache(): void;
declare function work(): Promise<string>;

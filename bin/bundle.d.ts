/** The repository root (with a trailing slash). */
export declare const ROOT: string;
/** dist/tenksctl.cjs. */
export declare const BUNDLE: string;
/** Whether bin/tenksctl.js runs the bundle (newer than every source, TENKS_NO_BUNDLE unset). */
export declare function bundleIsFresh(): boolean;

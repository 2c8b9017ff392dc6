import { useEffect, useRef, useState } from 'react';

/** The part of the Shape Detection API this needs (not in TypeScript's DOM types yet). */
interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<ReadonlyArray<{ readonly rawValue: string }>>;
}
interface BarcodeDetectorClass {
  new (options?: { formats?: string[] }): BarcodeDetectorLike;
  getSupportedFormats?: () => Promise<string[]>;
}

function detectorClass(): BarcodeDetectorClass | undefined {
  const ctor = (window as unknown as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
  return typeof ctor === 'function' ? ctor : undefined;
}

/** True when this browser can read QR codes from the camera (BarcodeDetector and getUserMedia). */
export async function canScanQrCodes(): Promise<boolean> {
  const ctor = detectorClass();
  if (ctor === undefined || typeof navigator.mediaDevices?.getUserMedia !== 'function') return false;
  try {
    const formats = (await ctor.getSupportedFormats?.()) ?? ['qr_code'];
    return formats.includes('qr_code');
  } catch {
    return false;
  }
}

/**
 * The camera's picture with QR detection: calls onScan with the first code
 * `accept` takes (a device link, a contact code). Check `canScanQrCodes()`
 * before showing it. `typeInstead` names what the user can type when no
 * camera opens ("the code", "the username"). The camera stops when this unmounts.
 */
export function QrScanner(props: { label: string; typeInstead: string; accept: (text: string) => boolean; onScan: (text: string) => void; onError: (message: string) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const latest = useRef(props);
  latest.current = props;
  const [ready, setReady] = useState(false);

  useEffect(() => {
    const ctor = detectorClass();
    if (ctor === undefined) return;
    let live = true;
    let stream: MediaStream | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const detector = new ctor({ formats: ['qr_code'] });

    const scan = async () => {
      const el = video.current;
      if (!live || el === null) return;
      try {
        if (el.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
          const found = (await detector.detect(el)).find((c) => latest.current.accept(c.rawValue));
          if (found !== undefined && live) {
            live = false;
            latest.current.onScan(found.rawValue);
            return;
          }
        }
      } catch {
        /* a frame that could not be read; try the next one */
      }
      if (live) timer = setTimeout(() => void scan(), 250);
    };

    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false }).then(
      async (s) => {
        stream = s;
        const el = video.current;
        if (!live || el === null) {
          for (const t of s.getTracks()) t.stop();
          return;
        }
        el.srcObject = s;
        await el.play().catch(() => undefined);
        setReady(true);
        void scan();
      },
      (err: unknown) => {
        if (!live) return;
        const denied = err instanceof DOMException && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
        const instead = `Type ${latest.current.typeInstead} instead.`;
        latest.current.onError(denied ? `Parley may not use the camera. ${instead}` : `No camera could be opened. ${instead}`);
      },
    );

    return () => {
      live = false;
      if (timer !== undefined) clearTimeout(timer);
      if (stream !== undefined) for (const t of stream.getTracks()) t.stop();
    };
  }, []);

  return (
    <div className="scanner">
      <video ref={video} muted playsInline aria-label={props.label} />
      {!ready && <span className="spinner" aria-label="Starting the camera" />}
    </div>
  );
}

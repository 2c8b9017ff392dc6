import { useEffect, useRef, useState } from 'react';

/** The part of the Shape Detection API this needs (not in TypeScript's DOM types yet). */
interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<ReadonlyArray<{ readonly rawValue: string }>>;
}
type BarcodeDetectorClass = new (options?: { formats?: string[] }) => BarcodeDetectorLike;

/**
 * The camera's picture with QR detection, for codes other than a device
 * link (linking/CodeScanner only reports "parley-link:" codes): calls onScan
 * with the first code `accept` takes. Check `canScanQrCodes()` (linking/)
 * before showing it. The camera stops when this unmounts.
 */
export function QrScanner(props: { label: string; accept: (text: string) => boolean; onScan: (text: string) => void; onError: (message: string) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const latest = useRef(props);
  latest.current = props;
  const [ready, setReady] = useState(false);

  useEffect(() => {
    const ctor = (window as unknown as { BarcodeDetector?: BarcodeDetectorClass }).BarcodeDetector;
    if (typeof ctor !== 'function') return;
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
        latest.current.onError(denied ? 'Parley may not use the camera. Type the username instead.' : 'No camera could be opened. Type the username instead.');
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

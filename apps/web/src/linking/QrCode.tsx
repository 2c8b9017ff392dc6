import { useMemo } from 'react';
import QRCode from 'qrcode';

/**
 * A QR code drawn as one SVG path, made in the browser from the text (no
 * network, no canvas, no data URL). Dark modules on a white quiet zone in
 * both themes, because scanners expect dark on light.
 */
export function QrCode(props: { text: string; label: string; size?: number }) {
  const { path, dimension } = useMemo(() => {
    const { modules } = QRCode.create(props.text, { errorCorrectionLevel: 'M' });
    const n = modules.size;
    let d = '';
    for (let row = 0; row < n; row++) {
      for (let col = 0; col < n; col++) {
        // One horizontal run of dark modules becomes one rectangle.
        if (modules.get(row, col) === 0 || (col > 0 && modules.get(row, col - 1) !== 0)) continue;
        let end = col;
        while (end + 1 < n && modules.get(row, end + 1) !== 0) end++;
        d += `M${col + QUIET} ${row + QUIET}h${end - col + 1}v1h-${end - col + 1}z`;
      }
    }
    return { path: d, dimension: n + 2 * QUIET };
  }, [props.text]);
  const size = props.size ?? 220;
  return (
    <svg className="qr-code" role="img" aria-label={props.label} width={size} height={size} viewBox={`0 0 ${dimension} ${dimension}`} shapeRendering="crispEdges">
      <rect width={dimension} height={dimension} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

/** The light border scanners need around the code, in modules. */
const QUIET = 2;

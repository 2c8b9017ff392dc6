import { QrScanner } from '../components/QrScanner';

export { canScanQrCodes } from '../components/QrScanner';

/** The camera's picture with QR detection for a device link: calls onScan with the first code that looks like a Parley link. */
export function CodeScanner(props: { onScan: (text: string) => void; onError: (message: string) => void }) {
  return (
    <QrScanner
      label="Camera: point it at the QR code on the new device"
      typeInstead="the code"
      accept={(text) => text.startsWith('parley-link:')}
      onScan={props.onScan}
      onError={props.onError}
    />
  );
}

// How vouchers, customers and times read on the page. Amounts are minor units (×100).

/** The voucher fields every list asks for. */
export const VOUCHER_FIELDS = `code type
  discount { type amountOff percentOff unitOff unitType fixedAmount amountLimit }
  gift { amount balance } loyaltyCard { points balance }`;

export const TYPES = [
  ['DISCOUNT_VOUCHER', 'Discount'],
  ['GIFT_VOUCHER', 'Gift card'],
  ['LOYALTY_CARD', 'Loyalty card'],
];

const TYPE_LABELS = new Map(TYPES);

export const typeLabel = (type) => TYPE_LABELS.get(type) ?? type ?? '—';

const money = (minor) => (minor == null ? '?' : (minor / 100).toFixed(2));
const number = new Intl.NumberFormat();

/** "5.00 off", "15% off (max 30.00)", "2 × prod_1 off", "price 25.00", "gift 50.00", "120 points". */
export function valueOf(voucher) {
  const d = voucher?.discount;
  if (d) {
    switch (d.type) {
      case 'AMOUNT':
        return `${money(d.amountOff)} off`;
      case 'PERCENT':
        return `${d.percentOff ?? '?'}% off${d.amountLimit != null ? ` (max ${money(d.amountLimit)})` : ''}`;
      case 'UNIT':
        return `${d.unitOff ?? '?'} × ${d.unitType ?? 'unit'} off`;
      case 'FIXED':
        return `price ${money(d.fixedAmount)}`;
      default:
        return d.type ?? '—';
    }
  }
  if (voucher?.gift) return `gift ${money(voucher.gift.amount)}`;
  if (voucher?.loyaltyCard) return `${number.format(voucher.loyaltyCard.points ?? 0)} points`;
  return '—';
}

/** The name people know a customer by, and everything else about them for a tooltip. */
export function customerLabel(customer) {
  if (!customer) return { text: '—', title: '' };
  const text = customer.name || customer.email || customer.sourceId || customer.id;
  const title = [customer.name, customer.email, customer.sourceId, customer.id].filter(Boolean).join(' · ');
  return { text, title };
}

/** A campaign's full name and id, for the tooltip of a cell that may cut the name short. */
export const campaignTitle = (campaign) => (campaign ? `${campaign.name} · ${campaign.id}` : '');

const clock = { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
const timeFormat = new Intl.DateTimeFormat(undefined, clock);
const dateFormat = new Intl.DateTimeFormat(undefined, { ...clock, year: 'numeric', month: '2-digit', day: '2-digit' });

/** "14:03:09", as the feed shows times. */
export const clockTime = (date) => timeFormat.format(date);

/** A `<time>` element: the time of day for today, date and time otherwise. */
export function timeElement(iso) {
  const element = document.createElement('time');
  const date = new Date(iso);
  element.dateTime = iso;
  const today = date.toDateString() === new Date().toDateString();
  element.textContent = Number.isNaN(date.getTime()) ? '—' : (today ? timeFormat : dateFormat).format(date);
  element.title = iso;
  return element;
}

export const formatCount = (n) => number.format(n);

/** A table cell holding `text` (or a node), with an optional tooltip and class. */
export function cell(content, { title, className } = {}) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content);
  else td.textContent = content ?? '—';
  if (title) td.title = title;
  if (className) td.className = className;
  return td;
}

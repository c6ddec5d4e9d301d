// Charts of the dashboard (Recharts), in their own chunk with the pages that use them.
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';

const PALETTE = [
  '#1877F2',
  '#42B72A',
  '#F7B928',
  '#F02849',
  '#8C54FF',
  '#00A3A3',
  '#E67E22',
  '#65676B',
];

export interface Slice {
  name: string;
  value: number;
}

/** A horizontal bar chart with a data table for screen readers. */
export function BarBreakdown({
  data,
  label,
  color = '#1877F2',
}: {
  data: Slice[];
  label: string;
  color?: string;
}) {
  return (
    <figure>
      <div className="h-56" aria-hidden="true">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart
            data={data}
            layout="vertical"
            margin={{ left: 8, right: 16 }}
            accessibilityLayer={false}
          >
            <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke="var(--tn-line)" />
            <XAxis type="number" allowDecimals={false} stroke="var(--tn-muted)" fontSize={12} />
            <YAxis
              type="category"
              dataKey="name"
              width={110}
              stroke="var(--tn-muted)"
              fontSize={12}
            />
            <Tooltip />
            <Bar
              dataKey="value"
              name={label}
              fill={color}
              radius={[0, 4, 4, 0]}
              isAnimationActive={false}
            />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="sr-only">
        {label}: {data.map((d) => `${d.name} ${d.value}`).join(', ')}
      </figcaption>
    </figure>
  );
}

export function TrendChart({
  points,
}: {
  points: { date: string; framework: string; score: number }[];
}) {
  // The API names the tenant's overall score with an empty framework.
  const series = (f: string) => f || 'Overall';
  const frameworks = [...new Set(points.map((p) => series(p.framework)))];
  const byDate = new Map<string, Record<string, number | string>>();
  for (const p of points) {
    const row = byDate.get(p.date) ?? { date: p.date };
    row[series(p.framework)] = p.score;
    byDate.set(p.date, row);
  }
  const rows = [...byDate.values()].sort((a, b) => String(a.date).localeCompare(String(b.date)));
  return (
    <figure>
      <div className="h-64" aria-hidden="true">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={rows} margin={{ left: 0, right: 16 }} accessibilityLayer={false}>
            <CartesianGrid strokeDasharray="3 3" stroke="var(--tn-line)" />
            <XAxis dataKey="date" stroke="var(--tn-muted)" fontSize={12} />
            <YAxis domain={[0, 100]} stroke="var(--tn-muted)" fontSize={12} />
            <Tooltip />
            <Legend />
            {frameworks.map((f, i) => (
              <Line
                key={f}
                type="monotone"
                dataKey={f}
                stroke={PALETTE[i % PALETTE.length]}
                dot={false}
                isAnimationActive={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="sr-only">
        Compliance score over time for {frameworks.join(', ')}.
      </figcaption>
    </figure>
  );
}

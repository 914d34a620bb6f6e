// ml-cart ships no type declarations; these cover what the tree family uses. The node fields mirror
// its TreeNode, whose leaves keep the class shares of their training samples in `distribution`.
declare module "ml-cart" {
  export interface CartOptions {
    gainFunction?: "gini";
    splitFunction?: "mean";
    minNumSamples?: number;
    maxDepth?: number;
    gainThreshold?: number;
  }

  /** A 1-row ml-matrix: the share of each class (0, 1, …) among the leaf's training samples. */
  export interface Distribution {
    readonly columns: number;
    get(row: number, column: number): number;
  }

  export interface CartNode {
    splitColumn?: number;
    splitValue?: number;
    left?: CartNode;
    right?: CartNode;
    distribution?: Distribution;
    classify(row: ArrayLike<number>): Distribution;
  }

  export interface CartJson {
    name: string;
    options: CartOptions & { kind: string };
    root: unknown;
  }

  export class DecisionTreeClassifier {
    constructor(options?: CartOptions);
    root: CartNode;
    train(trainingSet: number[][], labels: number[]): void;
    predict(rows: number[][]): number[];
    toJSON(): CartJson;
    static load(model: CartJson): DecisionTreeClassifier;
  }
}

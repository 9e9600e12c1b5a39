DROP TABLE scoring_tree_state;
DROP TABLE scoring_unit_tree;
